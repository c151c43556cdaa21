from lbconsole.cli import main

raise SystemExit(main())
