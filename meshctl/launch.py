"""How an app and its sidecar are started: the same command lines in local mode and in containers."""

import os

from meshctl.topology import Service


METRICS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"  # shopcommon.metrics: where the workers' request metrics meet


def app_argv(service: Service, bind: str, gunicorn: str = "gunicorn") -> list[str]:
    """gunicorn serving ``service``'s WSGI app on ``bind`` (host:port). Its environment names a folder
    of the service's own in ``METRICS_DIR_ENV``, so /metrics adds up every worker's requests."""
    return [gunicorn, "--bind", bind, "--workers", app_workers(), "--threads", "4", "--graceful-timeout", "5",
            "--timeout", "30", "--name", service.id,
            # the sidecar keeps its connections to the app open between requests; gunicorn's 2 s
            # default closed idle ones under Envoy's feet, failing the request that reused one
            "--keep-alive", "75",
            # no shared control socket in $HOME: in local mode several gunicorns run side by side
            "--no-control-socket", "--config", "python:shopcommon.gunicorn_conf", service.wsgi_app]


def sidecar_argv(service: Service, grpc_addr: str, grpc_ca_file: str, token_file: str, consul: str = "consul",
                 http_addr: str | None = None, envoy: str | None = None, log_level: str = "warn") -> list[str]:
    """``consul connect envoy`` for ``service``'s sidecar, its Envoy admin on 127.0.0.1; Envoy takes
    its config from ``grpc_addr`` over TLS and trusts only ``grpc_ca_file`` for Consul's certificate.

    Envoy presents the service's own token, read from ``token_file`` (a file, so the secret never
    shows in ``ps``); Consul gives it that service's config and certificate only.
    """
    argv = [consul, "connect", "envoy", "-sidecar-for", service.id, "-token-file", token_file,
            "-admin-bind", f"127.0.0.1:{service.admin_port}", "-grpc-addr", grpc_addr,
            "-grpc-ca-file", grpc_ca_file]
    if http_addr:
        argv += ["-http-addr", http_addr]
    if envoy:
        argv += ["-envoy-binary", envoy]
    return argv + envoy_flags(log_level) + ["--concurrency", sidecar_concurrency()]


APP_WORKERS_ENV, APP_WORKERS = "APP_WORKERS", "2"


def app_workers() -> str:
    """How many gunicorn worker processes each app runs (``$APP_WORKERS``, default 2).

    Two, so that a worker killed (the crash tests kill them under load) leaves its app answering
    while gunicorn starts another. One costs less CPU per request at the mesh's rates, since each
    process then serves twice as many requests and sleeps less between them (docs/performance.md,
    "One gunicorn worker per app"), and a killed worker stops its app until the next one is up."""
    return _count(APP_WORKERS_ENV, APP_WORKERS, "worker processes")


SIDECAR_CONCURRENCY_ENV, SIDECAR_CONCURRENCY = "ENVOY_SIDECAR_CONCURRENCY", "1"


def sidecar_concurrency() -> str:
    """How many worker threads each sidecar's Envoy runs (``$ENVOY_SIDECAR_CONCURRENCY``, default 1).

    Envoy starts one per core by default. A sidecar carries one app's calls, and on two cores shared
    by five apps and their Envoys one worker does it with less CPU per request (docs/performance.md,
    "One worker thread per sidecar"); gateways keep Envoy's default."""
    return _count(SIDECAR_CONCURRENCY_ENV, SIDECAR_CONCURRENCY, "worker threads")


def _count(name: str, default: str, what: str) -> str:
    """``$name``, else ``default``: a whole number of ``what``, 1 or more, or a ValueError saying so."""
    value = os.environ.get(name, "").strip() or default
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{name} must be a whole number of {what}, 1 or more: {value!r}")
    return value


def gateway_argv(kind: str, name: str, address: str, admin_port: int, grpc_addr: str, grpc_ca_file: str,
                 token_file: str, log_level: str = "warn", wan_address: str | None = None) -> list[str]:
    """``consul connect envoy`` for a gateway of ``kind`` (ingress, mesh) registered as service ``name``
    at ``address`` (host:port, where its Envoy answers Consul's check), with its own token, as a
    sidecar's: an ingress gateway's listeners come from its config entry; a mesh gateway listens on
    ``address`` for its own datacenter and on ``wan_address`` for the peered one."""
    wan = ["-wan-address", wan_address] if wan_address else []
    return ["consul", "connect", "envoy", "-gateway", kind, "-register", "-service", name, "-address", address,
            *wan, "-token-file", token_file, "-admin-bind", f"127.0.0.1:{admin_port}", "-grpc-addr", grpc_addr,
            "-grpc-ca-file", grpc_ca_file] + envoy_flags(log_level)


def envoy_flags(log_level: str) -> list[str]:
    """How every `consul connect envoy` command line here ends: the same Envoy for sidecars and gateways."""
    return [
        # Envoy from PyPI is newer than the range Consul 1.16 was tested with; see docs/mesh.md,
        # "What Envoy needed"
        "-ignore-envoy-compatibility",
        "--", "--log-level", log_level,
        # an intention change reaches Envoy as a listener update, and connections opened before it
        # keep the old rules until drained: 600s by default. Drain at once, so a deny bites within
        # seconds (see docs/mesh.md, "What Envoy needed")
        "--drain-time-s", "2", "--drain-strategy", "immediate",
        # consul adds this itself unless it sees a drain option (it takes them for hot restart);
        # in local mode several Envoys share one host, and hot restart would have them share memory
        "--disable-hot-restart",
    ]
