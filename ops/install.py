"""``fab install``: from a bare Debian/Ubuntu host to HTTPS nodes behind nginx.

Each step checks before it acts, so a second run changes nothing and says so. Choices not
given again (nodes, port, domain, tenant, mode) are read back from the host's deployment
record; secrets already on the host are kept.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass

from ops import tls
from ops.build import ReleaseBuild, build_release, uncommitted_changes
from ops.checks import wait_healthy, wait_url
from ops.deployment import Deployment, load_deployment, save_deployment
from ops.facts import HostFacts, check_supported, gather
from ops.first_tenant import Credentials, ensure_first_tenant, ensure_operator
from ops.layout import (
    ACME_WEBROOT,
    APP_DIR,
    CONFIG_DIR,
    CONFIG_FILE,
    CURRENT_LINK,
    DATA_DIR,
    DATABASE_NAME,
    DATABASE_USER,
    DEPLOYMENT_FILE,
    LOG_DIR,
    REDIS_URL,
    RELEASES_DIR,
    SERVICE_USER,
    SLOTS_DIR,
    slot_link,
)
from ops.release import create_release, migrate, point, release_info
from ops.remote import CommandFailed, Host, Outcome, StepFailed, changed, unchanged
from ops.services import Supervisor, supervisor_for
from ops.site import apply_site

APT_TIMEOUT_SECS = 1800
BASE_PACKAGES = ["mariadb-server", "redis-server", "nginx", "openssl", "ca-certificates"]


@dataclass
class InstallOptions:
    domain: str | None = None
    nodes: int | None = None
    tenant: str | None = None
    mode: str | None = None  # "SelfHosted" | "SaaS"
    https_port: int | None = None
    ref: str = "HEAD"
    admin_email: str | None = None


def public_url(deployment: Deployment) -> str:
    port = "" if deployment.https_port == 443 else f":{deployment.https_port}"
    name = deployment.server_name
    return f"https://{f'[{name}]' if ':' in name else name}{port}/"


class Installer:
    def __init__(self, host: Host, options: InstallOptions) -> None:
        self.host = host
        self.options = options
        self.facts: HostFacts
        self.supervisor: Supervisor
        self.previous: Deployment | None = None
        self.deployment: Deployment
        self.config: dict[str, object] = {}
        self.credentials = Credentials()
        self.build: ReleaseBuild | None = None

    # ------------------------------------------------------------------ the steps

    def run(self) -> Credentials:
        h = self.host
        h.step("host", self.inspect)
        h.step("system packages", self.packages)
        h.step("system services", self.services)
        h.step("service user and directories", self.user_and_dirs)
        h.step("database", self.database)
        h.step("configuration", self.configuration)
        h.step("release", self.release)
        h.step("schema migrations", self.migrations)
        h.step("first tenant", self.first_tenant)
        h.step("TLS certificate", self.certificate)
        h.step("node processes", self.nodes)
        h.step("nginx site", self.nginx_site)
        if self.deployment.domain and self.deployment.tls.kind != "letsencrypt":
            h.step("Let's Encrypt certificate", self.letsencrypt)
        h.step("check through nginx", self.check_front)
        return self.credentials

    def inspect(self) -> Outcome:
        self.facts = gather(self.host)
        check_supported(self.host, self.facts)
        self.supervisor = supervisor_for(self.host, self.facts.systemd, self.facts.hostname)
        self.previous = load_deployment(self.host)
        init = "systemd" if self.facts.systemd else "no systemd: nodes run under supervisord"
        seen = f"installed before ({DEPLOYMENT_FILE})" if self.previous else "new install"
        return unchanged(f"{self.facts.pretty}, {self.facts.machine}, {init}; {seen}")

    def _wanted_packages(self) -> list[str]:
        wanted = BASE_PACKAGES + self.facts.python_packages
        if not self.facts.systemd:
            wanted.append("supervisor")
        if self._domain() and tls.resolves_here(self.host, self._domain() or "", self.facts):
            wanted.append("certbot")
        return wanted

    def packages(self) -> Outcome:
        wanted = self._wanted_packages()
        status = self.host.run(
            "dpkg-query -W -f='${Package} ${db:Status-Abbrev}\\n' "
            + " ".join(wanted)
            + " 2>/dev/null || true"
        )
        installed = {line.split()[0] for line in status.splitlines() if line.split()[1:2] == ["ii"]}
        missing = [p for p in wanted if p not in installed]
        if not missing:
            return unchanged(f"{len(wanted)} packages present")
        self.host.say(f"system packages: apt-get install {' '.join(missing)}")
        apt = "apt-get -q -o DPkg::Lock::Timeout=300"
        # --error-on=any: a mirror that cannot be reached fails here, with its own words,
        # not later as "Unable to locate package".
        self.host.run(f"{apt} update --error-on=any", timeout=APT_TIMEOUT_SECS)
        self.host.run(
            f"{apt} install -y --no-install-recommends {' '.join(missing)}",
            env={"DEBIAN_FRONTEND": "noninteractive"},
            timeout=APT_TIMEOUT_SECS,
        )
        return changed(f"installed {' '.join(missing)}")

    def services(self) -> Outcome:
        started = []
        names = ["mariadb", "redis-server", "nginx"]
        for name in names:
            enabled = not self.facts.systemd or self.host.ok(f"systemctl is-enabled --quiet {name}")
            if not (self.supervisor.service_active(name) and enabled):
                self.supervisor.service("ensure", name)
                started.append(name)
        if started:
            return changed(f"started {', '.join(started)}")
        return unchanged(f"{', '.join(names)} running")

    def user_and_dirs(self) -> Outcome:
        made = []
        if not self.host.ok(f"id -u {SERVICE_USER}"):
            self.host.run(
                f"useradd --system --user-group --home-dir {DATA_DIR} --no-create-home "
                f"--shell /usr/sbin/nologin {SERVICE_USER}"
            )
            made.append(f"user {SERVICE_USER}")
        dirs = [
            (APP_DIR, "755", "root", "root"),
            (RELEASES_DIR, "755", "root", "root"),
            (SLOTS_DIR, "755", "root", "root"),
            (CONFIG_DIR, "750", "root", SERVICE_USER),
            (DATA_DIR, "700", SERVICE_USER, SERVICE_USER),
            (LOG_DIR, "750", SERVICE_USER, SERVICE_USER),
            (ACME_WEBROOT, "755", "root", "root"),
        ]
        for path, mode, owner, group in dirs:
            have = self.host.run(f"stat -c '%a %U %G' {path} 2>/dev/null || true").strip()
            if have != f"{mode} {owner} {group}":
                self.host.run(f"install -d -m {mode} -o {owner} -g {group} {path}")
                made.append(path)
        if made:
            return changed(f"made {', '.join(made)}")
        return unchanged(f"user {SERVICE_USER} and its directories exist")

    def _existing_config(self) -> dict[str, object]:
        text = self.host.read(CONFIG_FILE)
        if not text:
            return {}
        try:
            loaded = json.loads(text)
        except ValueError:
            raise StepFailed(
                self.host.name, "configuration", f"{CONFIG_FILE} is not JSON"
            ) from None
        return loaded if isinstance(loaded, dict) else {}

    def _database_password(self) -> str:
        url = str(self._existing_config().get("database_url", ""))
        if url.startswith("mysql://") and "@" in url and ":" in url.split("@")[0][8:]:
            return url.split("@")[0][8:].split(":", 1)[1]
        return secrets.token_urlsafe(24)

    def database(self) -> Outcome:
        password = self._database_password()
        self.config["database_url"] = (
            f"mysql://{DATABASE_USER}:{password}@127.0.0.1:3306/{DATABASE_NAME}"
        )
        login = (
            f"mariadb -h 127.0.0.1 -u {DATABASE_USER} {DATABASE_NAME} -N -e "
            "'SELECT @@character_set_database'"
        )
        try:
            charset = self.host.run(login, env={"MYSQL_PWD": password}).strip()
        except CommandFailed:
            charset = ""
        if charset == "utf8mb4":
            return unchanged(f"{DATABASE_NAME} (utf8mb4) and its user exist")
        quoted = password.replace("'", "''")
        sql = [
            f"CREATE DATABASE IF NOT EXISTS {DATABASE_NAME} "
            "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;",
            f"ALTER DATABASE {DATABASE_NAME} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;",
        ]
        for where in ("localhost", "127.0.0.1"):
            account = f"'{DATABASE_USER}'@'{where}'"
            sql += [
                f"CREATE USER IF NOT EXISTS {account} IDENTIFIED BY '{quoted}';",
                f"ALTER USER {account} IDENTIFIED BY '{quoted}';",
                f"GRANT ALL PRIVILEGES ON {DATABASE_NAME}.* TO {account};",
            ]
        # As root over the local socket; the SQL (with the password) goes through stdin.
        self.host.run("mariadb --batch", input="\n".join(sql) + "\n")
        return changed(f"created database {DATABASE_NAME} and user {DATABASE_USER}")

    def _domain(self) -> str | None:
        if self.options.domain:
            return self.options.domain
        return self.previous.domain if self.previous else None

    def _mode(self) -> str:
        if self.options.mode:
            return self.options.mode
        return self.previous.mode if self.previous else "SelfHosted"

    def _tenant(self) -> str:
        if self.options.tenant:
            return self.options.tenant
        return self.previous.tenant if self.previous else "default"

    def configuration(self) -> Outcome:
        config = self._existing_config()
        config.update(self.config)
        config.update(
            {
                "mode": self._mode(),
                "tenant": self._tenant(),
                "data_dir": DATA_DIR,
                "redis_url": REDIS_URL,
                "trusted_proxies": "127.0.0.1,::1",
            }
        )
        config.setdefault("secret_key", secrets.token_urlsafe(48))
        config.setdefault("metrics_token", secrets.token_urlsafe(32))
        self.config = config
        text = json.dumps(config, indent=2, sort_keys=True) + "\n"
        if self.host.write(CONFIG_FILE, text, mode=0o600, owner=SERVICE_USER):
            return changed(f"wrote {CONFIG_FILE} (0600, {SERVICE_USER})")
        return unchanged(f"{CONFIG_FILE} up to date")

    def _deployment(self, release: str) -> Deployment:
        previous = self.previous
        domain = self._domain()
        deployment = previous or Deployment(
            nodes=2,
            https_port=443,
            server_name=domain or self.host.address,
            domain=domain,
            tenant=self._tenant(),
            mode=self._mode(),
            tls=tls.self_signed_paths(),
            installed_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        )
        if self.options.nodes is not None:
            deployment.nodes = self.options.nodes
        if self.options.https_port is not None:
            deployment.https_port = self.options.https_port
        if domain and deployment.domain != domain:
            deployment.domain, deployment.server_name = domain, domain
        deployment.tenant, deployment.mode = self._tenant(), self._mode()
        if deployment.live is None:
            deployment.live = "blue"
            deployment.releases["blue"] = release
        return deployment

    def release(self) -> Outcome:
        live = self.previous.live if self.previous else None
        name = self.previous.release_of(live) if self.previous and live else None
        if name and release_info(self.host, name):
            self.deployment = self._deployment(name)
            return unchanged(f"{name} is live (fab deploy --ref REF upgrades)")
        if uncommitted_changes():
            self.host.say(
                f"release: note: built from the commit of {self.options.ref}; "
                "uncommitted changes are not included"
            )
        self.build = build_release(self.options.ref)
        name = create_release(self.host, self.build, self.facts)
        self.deployment = self._deployment(name)
        point(self.host, slot_link("blue"), name)
        point(self.host, CURRENT_LINK, name)
        return changed(f"built {name} from {self.options.ref} ({self.build.short})")

    def migrations(self) -> Outcome:
        applied = migrate(self.host, CURRENT_LINK)
        if applied:
            return changed(f"applied {'; '.join(applied)}")
        return unchanged("schema up to date")

    def first_tenant(self) -> Outcome:
        creds = self.credentials
        creds.tenant, creds.mode = self._tenant(), self._mode()
        creds.url = public_url(self.deployment)
        domain = self._domain() or "localhost"
        creds.admin_email = self.options.admin_email or f"admin@{domain}"
        made = ensure_first_tenant(self.host, creds)
        if self._mode() == "SaaS":
            made += ensure_operator(self.host, creds, f"operator@{domain}")
        if made:
            return changed(f"created {', '.join(made)}")
        return unchanged(f"tenant {creds.tenant} has a site and an admin")

    def certificate(self) -> Outcome:
        outcome = tls.ensure_certificate(self.host, self.deployment)
        self.credentials.tls_kind = self.deployment.tls.kind
        return outcome

    def nodes(self) -> Outcome:
        save_deployment(self.host, self.deployment)
        did = self.supervisor.install(self.deployment)
        ports = [p for s in self.deployment.running_slots() for p in self.deployment.nodes_of(s)]
        wait_healthy(self.host, ports)
        if did:
            return changed(f"{len(ports)} nodes started under {self.supervisor.kind}, healthy")
        return unchanged(f"{len(ports)} nodes running under {self.supervisor.kind}, healthy")

    def nginx_site(self) -> Outcome:
        return apply_site(self.host, self.deployment, self.facts.ipv6, self.supervisor)

    def letsencrypt(self) -> Outcome:
        outcome = tls.letsencrypt(self.host, self.deployment, self.facts)
        if self.deployment.tls.kind == "letsencrypt":
            save_deployment(self.host, self.deployment)
            apply_site(self.host, self.deployment, self.facts.ipv6, self.supervisor)
            self.credentials.tls_kind = "letsencrypt"
        else:
            self.credentials.notes.append(outcome.message)
        return outcome

    def check_front(self) -> Outcome:
        port = self.deployment.https_port
        wait_url(self.host, f"https://127.0.0.1:{port}/api/healthz", timeout=30)
        return unchanged(f"https://127.0.0.1:{port}/api/healthz answers 200")
