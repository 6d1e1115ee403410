"""Backend workers: the supervisor that keeps the RQ workers of every queue running.

- ``supervisor``: the plan (NB_BACKEND_WORKERS, ASYNC_EMAILS), starting, watching and stopping workers;
- ``maintenance``: its Redis side, RQ's registry maintenance and the stand-in scheduler;
- ``sweep``: the recovery loop (one host at a time) the supervisor and ``notifications_sweep`` run;
- ``pidfiles``: the supervisor's and the workers' pid files, read by ``backend_workers status|stop``;
- ``logs``: WORKER_LOG, set up by ``manage.py rqworker`` and ``manage.py backend_workers``;
- ``warmup``: what a worker process loads once, before its first job;
- ``classes``: the in-process worker class of the notifications queue.
"""
