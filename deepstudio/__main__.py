from deepstudio.cli.main import main

raise SystemExit(main())
