from contractgql.cli import main

raise SystemExit(main())
