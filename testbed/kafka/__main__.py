"""`python -m testbed.kafka [warm]`."""

from testbed.kafka.broker import main

raise SystemExit(main())
