"""This mesh's secrets, made on first start with the consul binary's own tools (stdlib otherwise).

The same functions serve `make up` (everything under ``volumes/secrets``, owned by the host user) and
the containers' ``mesh-secrets`` step (one folder per holder, owned by the user that reads it; see
``meshctl.container``). Each file is made only when missing, and written under a temporary name
first, so a first start cut short finishes on the next one and nothing ever reads half a key.

- the gossip encryption key;
- Consul's CA and its server certificate (the HTTPS API and the gRPC port Envoy takes xDS from);
- client agents' certificates from Consul's CA (cluster.yml: what a client agent serves its HTTPS
  API and xDS with, and shows the servers);
- a second CA, for client certificates: Consul's HTTPS API answers only callers that present one
  (``verify_incoming``). It must not be Consul's CA: Envoy checks Consul's certificate against the
  CA only, not against a name, so a client certificate from Consul's CA would pass as Consul's;
- client certificates from it, one per holder (sidecars, the Consul gate, operators);
- ACL token secrets: random UUIDs, given to Consul when the token is created (``meshctl.acl``).
"""

import os
import shutil
import subprocess
import uuid
from pathlib import Path

# the Consul datacenter these secrets are for: dc1, or dc2.yml's dc2 (its mesh-secrets says
# so in MESH_DATACENTER); Consul names a server's certificate after it, and checks the name
DATACENTER = os.environ.get("MESH_DATACENTER", "").strip() or "dc1"
SERVER_CA = "consul-agent-ca.pem"
SERVER_CA_KEY = "consul-agent-ca-key.pem"
SERVER_CERT = f"{DATACENTER}-server-consul-0.pem"
SERVER_KEY = f"{DATACENTER}-server-consul-0-key.pem"
AGENT_CERT = "agent.pem"  # a client agent's (cluster.yml)
AGENT_KEY = "agent-key.pem"
CLIENT_CA = "clients-agent-ca.pem"
CLIENT_CA_KEY = "clients-agent-ca-key.pem"
DAYS = "1825"  # five years, as long as `consul tls ca create` makes its CAs


class SecretsError(Exception):
    """A secret could not be made; the message says which and what consul said."""


def consul_tool(consul: str | Path, *args: str, cwd: Path | None = None) -> str:
    """Run one of the consul binary's offline tools."""
    result = subprocess.run([str(consul), *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise SecretsError(f"consul {' '.join(args)} failed: {(result.stderr or result.stdout).strip()}")
    return result.stdout


def private_folder(path: Path, owner: int | None = None) -> Path:
    """``path``, made if missing, readable by its owner only."""
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)
    if owner is not None:
        os.chown(path, owner, owner)
    return path


def write_secret(path: Path, text: str, owner: int | None = None, mode: int = 0o600) -> Path:
    """Write ``text`` with ``mode`` under a temporary name, then rename: no half-written file is ever seen."""
    draft = path.with_name(path.name + ".new")
    with os.fdopen(os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode), "w") as file:
        file.write(text)
    os.chmod(draft, mode)
    if owner is not None:
        os.chown(draft, owner, owner)
    draft.replace(path)
    return path


def gossip_key(consul: str | Path, folder: Path) -> Path:
    """``folder/gossip.hcl``: ``encrypt = "<key>"``, read by Consul from a file, never a command line."""
    path = folder / "gossip.hcl"
    if not path.exists():
        write_secret(path, f'encrypt = "{consul_tool(consul, "keygen").strip()}"\n')
    return path


def server_tls(consul: str | Path, folder: Path, dns_names: tuple[str, ...] = ()) -> bool:
    """Consul's CA and server certificate in ``folder``; True when anything was made.

    Without the CA, every file here is made anew; without the server certificate, a new one is made
    from the kept CA.
    """
    made = False
    if not (folder / SERVER_CA).exists():
        for stale in (SERVER_CA_KEY, SERVER_CERT, SERVER_KEY):
            (folder / stale).unlink(missing_ok=True)
        consul_tool(consul, "tls", "ca", "create", "-days", DAYS, cwd=folder)
        made = True
    if not (folder / SERVER_CERT).exists():
        (folder / SERVER_KEY).unlink(missing_ok=True)
        names = [arg for name in dns_names for arg in ("-additional-dnsname", name)]
        consul_tool(consul, "tls", "cert", "create", "-server", "-dc", DATACENTER, "-days", DAYS, *names, cwd=folder)
        made = True
    return made


def client_ca(consul: str | Path, folder: Path) -> bool:
    """The clients' CA in ``folder``; True when it was made (every client certificate is then stale)."""
    if (folder / CLIENT_CA).exists() and (folder / CLIENT_CA_KEY).exists():
        return False
    (folder / CLIENT_CA).unlink(missing_ok=True)
    consul_tool(consul, "tls", "ca", "create", "-domain", "clients", "-days", DAYS, cwd=folder)
    return True


def client_cert(consul: str | Path, ca_folder: Path, holder: str, into: Path,
                owner: int | None = None, renew: bool = False) -> tuple[Path, Path]:
    """``into/<holder>.pem`` and ``-key.pem``: a client certificate from the clients' CA for ``holder``."""
    cert, key = into / f"{holder}.pem", into / f"{holder}-key.pem"
    if renew or not (cert.exists() and key.exists()):
        _issue(consul, ca_folder / CLIENT_CA, ca_folder / CLIENT_CA_KEY, ("-client", "-domain", "clients"),
               f"{DATACENTER}-client-clients-0", cert, key, owner)
    return cert, key


def agent_cert(consul: str | Path, ca_folder: Path, node: str, into: Path,
               owner: int | None = None, renew: bool = False) -> tuple[Path, Path]:
    """``into/agent.pem`` and ``agent-key.pem``: a client agent's certificate from Consul's CA (in
    ``ca_folder``), naming client.<datacenter>.consul and ``node``. Not a server's: it cannot pass as one."""
    cert, key = into / AGENT_CERT, into / AGENT_KEY
    if renew or not (cert.exists() and key.exists()):
        _issue(consul, ca_folder / SERVER_CA, ca_folder / SERVER_CA_KEY, ("-client", "-additional-dnsname", node),
               f"{DATACENTER}-client-consul-0", cert, key, owner)
    return cert, key


def _issue(consul: str | Path, ca: Path, ca_key: Path, kind: tuple[str, ...], made: str, cert: Path, key: Path,
           owner: int | None) -> None:
    """`consul tls cert create` signed by ``ca``, in a private draft folder (the tool numbers its files
    after those it finds there), then moved to ``cert`` and ``key``."""
    work = ca.parent / f".{cert.stem}.draft"
    shutil.rmtree(work, ignore_errors=True)
    private_folder(work)
    try:
        consul_tool(consul, "tls", "cert", "create", *kind, "-dc", DATACENTER, "-days", DAYS,
                    "-ca", str(ca), "-key", str(ca_key), cwd=work)
        write_secret(key, (work / f"{made}-key.pem").read_text(), owner)
        write_secret(cert, (work / f"{made}.pem").read_text(), owner, mode=0o644)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def token_secret(path: Path, owner: int | None = None) -> str:
    """The ACL token secret kept in ``path``; a new random one when there is none yet."""
    if not path.exists():
        write_secret(path, f"{uuid.uuid4()}\n", owner)
    secret = path.read_text().strip()
    try:
        uuid.UUID(secret)
    except ValueError:
        raise SecretsError(f"{path} does not hold a token (a UUID); delete it to have a new one made") from None
    return secret


def agent_config(tls: Path, clients: Path, cert: str = SERVER_CERT, key: str = SERVER_KEY) -> str:
    """Consul's TLS settings (HCL) for the files in ``tls`` (the CA, and the agent's own ``cert`` and
    ``key``: a server's by default) and the clients' CA in ``clients``.

    The HTTPS API asks every caller for a client certificate from the clients' CA; the gRPC port
    does not (Envoy presents none there: its ACL token says who it is).
    """
    return (f'tls {{\n'
            f'  defaults {{\n'
            f'    ca_file   = "{tls / SERVER_CA}"\n'
            f'    cert_file = "{tls / cert}"\n'
            f'    key_file  = "{tls / key}"\n'
            f'  }}\n'
            f'  https {{\n'
            f'    ca_file         = "{clients / CLIENT_CA}"\n'
            f'    verify_incoming = true\n'
            f'  }}\n'
            f'  grpc {{\n'
            f'    verify_incoming = false\n'
            f'  }}\n'
            f'}}\n')
