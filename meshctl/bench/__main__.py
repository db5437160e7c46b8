from meshctl.bench.run import main

raise SystemExit(main())
