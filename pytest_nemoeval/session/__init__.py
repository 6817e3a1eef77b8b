"""The run's state, one plugin object per role (as pytest-xdist registers DSession / WorkerInteractor).

- `items.ItemsPlugin` collects: suites into items, the plan of their requests, each item's response and
  verdict. It runs where items are collected: the only process without xdist, each xdist worker.
- `controller.ControllerPlugin` owns the endpoint (or the server it starts), the one generation engine,
  results.json and the gate. It runs in the only process, or in the xdist controller, which never collects.
- `worker.WorkerPlugin` is an xdist worker's side of that: the served model, run id and store come from the
  controller, and a usage error goes home in workeroutput.
"""
