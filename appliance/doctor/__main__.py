"""``python -m appliance.doctor``: the doctor without the ``soundscape`` front end."""

from appliance.doctor import main

raise SystemExit(main())
