; Inno Setup 6 script for DeepStudio on Windows (packaging/README.md, "Windows").
; Build the frozen folder first (pyinstaller packaging\deepstudio.spec, which also writes
; build\icons\DeepStudio.ico), then:  iscc packaging\windows\DeepStudio.iss
; The installer goes to dist\DeepStudio-<version>-windows-x64-setup.exe. It installs for the
; current user without administrator rights (or for all users when asked), adds a Start-menu
; entry, associates DeepStudio projects, and registers an uninstaller.
;
; A project is a folder, Name.dstudio\; Explorer cannot give folders a type, so the
; association is for the manifest file inside it (Name.dstudio\Name.dstudio-project), which
; DeepStudio opens as its folder's project.

#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif
#define AppName "DeepStudio"
#define AppExe "DeepStudio.exe"
#define ProjectExt ".dstudio-project"
#define ProjectProgId "DeepStudio.Project"

[Setup]
AppId={{6F1D2C3A-8B4E-4F57-9A1C-5D2E7B9C0A41}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher=The DeepStudio developers
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
ChangesAssociations=yes
SourceDir=..\..
OutputDir=dist
OutputBaseFilename=DeepStudio-{#AppVersion}-windows-x64-setup
SetupIconFile=build\icons\DeepStudio.ico
UninstallDisplayIcon={app}\{#AppExe}
UninstallDisplayName={#AppName} {#AppVersion}
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Files]
Source: "dist\DeepStudio\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{group}\{#AppName}"; Filename: "{app}\{#AppExe}"; Comment: "Edit video with consenting, disclosed face swap and lip-sync"
Name: "{group}\{cm:UninstallProgram,{#AppName}}"; Filename: "{uninstallexe}"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#AppExe}"; Tasks: desktopicon

[Registry]
; HKA is HKCU for a per-user install and HKLM for an all-users one.
Root: HKA; Subkey: "Software\Classes\{#ProjectExt}"; ValueType: string; ValueName: ""; ValueData: "{#ProjectProgId}"; Flags: uninsdeletevalue
Root: HKA; Subkey: "Software\Classes\{#ProjectExt}\OpenWithProgids"; ValueType: string; ValueName: "{#ProjectProgId}"; ValueData: ""; Flags: uninsdeletevalue
Root: HKA; Subkey: "Software\Classes\{#ProjectProgId}"; ValueType: string; ValueName: ""; ValueData: "DeepStudio project"; Flags: uninsdeletekey
Root: HKA; Subkey: "Software\Classes\{#ProjectProgId}\DefaultIcon"; ValueType: string; ValueName: ""; ValueData: "{app}\{#AppExe},0"
Root: HKA; Subkey: "Software\Classes\{#ProjectProgId}\shell\open\command"; ValueType: string; ValueName: ""; ValueData: """{app}\{#AppExe}"" gui ""%1"""
Root: HKA; Subkey: "Software\Classes\Applications\{#AppExe}\SupportedTypes"; ValueType: string; ValueName: "{#ProjectExt}"; ValueData: ""; Flags: uninsdeletekey

[Run]
Filename: "{app}\{#AppExe}"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent
