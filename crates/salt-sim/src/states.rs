//! State returns (`state.apply`, `state.highstate`, `state.sls`, `state.top`) for the
//! simulated fleet, in the shape a real 3008 minion returns
//! (`tests/fixtures/salt/3008.4/list_job_highstate.json`): one entry per state, keyed
//! `<module>_|-<id>_|-<name>_|-<function>`, or a list of strings when rendering failed.
//!
//! Each minion applies a common tree (~35 states) plus its role's (~6), so about 40 states.
//! What a minion answers is a pure function of its seed (fixed per minion: a few percent are
//! broken, ~1% fail to render, some drift) and the jid (per run: a few percent do not return,
//! some change something, ~1% hit a transient failure). Nothing is stored per job: a return is
//! generated, straight into the reply, each time a job is looked up.

use super::Rng;
use serde_json::{json, Value};
use std::fmt::Write as _;

/// One state of a tree: (sls, function, id, name, extra, required id). `name` may hold
/// `debian|other` alternatives; `extra` is what the kind needs (the file's source, the sysctl
/// value, the cmd's `guard:stderr when it fails`, the ssh key's user).
type Spec = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
);

const COMMON: &[Spec] = &[
    ("common.packages", "pkg.installed", "vim", "vim", "", ""),
    ("common.packages", "pkg.installed", "curl", "curl", "", ""),
    ("common.packages", "pkg.installed", "htop", "htop", "", ""),
    ("common.packages", "pkg.installed", "jq", "jq", "", ""),
    ("common.packages", "pkg.installed", "rsync", "rsync", "", ""),
    ("common.packages", "pkg.installed", "tmux", "tmux", "", ""),
    ("common.packages", "pkg.installed", "git", "git", "", ""),
    ("common.packages", "pkg.installed", "lsof", "lsof", "", ""),
    ("common.packages", "pkg.installed", "ca-certificates", "ca-certificates", "", ""),
    ("common.packages", "pkg.installed", "dns-tools", "dnsutils|bind-utils", "", ""),
    ("common.packages", "pkg.installed", "auto-updates", "unattended-upgrades|dnf-automatic", "", ""),
    ("common.time", "pkg.installed", "chrony", "chrony", "", ""),
    ("common.time", "file.managed", "chrony-conf", "/etc/chrony/chrony.conf|/etc/chrony.conf", "salt://common/time/chrony.conf.j2", "chrony"),
    ("common.time", "service.running", "chrony-service", "chrony|chronyd", "", "chrony-conf"),
    ("common.time", "timezone.system", "timezone", "UTC", "", ""),
    ("common.ssh", "pkg.installed", "openssh-server", "openssh-server", "", ""),
    ("common.ssh", "file.managed", "sshd-config", "/etc/ssh/sshd_config", "salt://common/ssh/sshd_config.j2", "openssh-server"),
    ("common.ssh", "service.running", "sshd-service", "ssh|sshd", "", "sshd-config"),
    ("common.users", "group.present", "ops", "ops", "", ""),
    ("common.users", "user.present", "deploy", "deploy", "", "ops"),
    ("common.users", "user.present", "alice", "alice", "", "ops"),
    ("common.users", "user.present", "bob", "bob", "", "ops"),
    ("common.users", "ssh_auth.present", "deploy-key", "AAAAC3NzaC1lZDI1NTE5AAAAIHs1mD3pl0yK3yF0rHal1teS1mFl33t", "deploy", "deploy"),
    ("common.users", "file.managed", "sudoers-ops", "/etc/sudoers.d/ops", "salt://common/users/sudoers-ops", "ops"),
    ("common.sysctl", "sysctl.present", "vm.swappiness", "vm.swappiness", "10", ""),
    ("common.sysctl", "sysctl.present", "net.core.somaxconn", "net.core.somaxconn", "4096", ""),
    ("common.sysctl", "sysctl.present", "fs.file-max", "fs.file-max", "2097152", ""),
    ("common.sysctl", "file.managed", "nofile-limits", "/etc/security/limits.d/90-nofile.conf", "salt://common/sysctl/90-nofile.conf", ""),
    ("common.motd", "file.managed", "motd", "/etc/motd", "salt://common/motd/motd.j2", ""),
    ("common.motd", "file.managed", "prompt", "/etc/profile.d/prompt.sh", "salt://common/motd/prompt.sh", ""),
    ("common.monitoring", "pkg.installed", "node-exporter", "prometheus-node-exporter|golang-github-prometheus-node-exporter", "", ""),
    ("common.monitoring", "file.directory", "textfile-dir", "/var/lib/node_exporter/textfile_collector", "", "node-exporter"),
    ("common.monitoring", "service.running", "node-exporter-service", "prometheus-node-exporter|node_exporter", "", "node-exporter"),
    ("common.cron", "cron.present", "logrotate-hourly", "/usr/sbin/logrotate /etc/logrotate.conf", "", ""),
    ("common.cron", "file.managed", "logrotate-app", "/etc/logrotate.d/app", "salt://common/cron/logrotate-app", ""),
    ("common.cron", "cmd.run", "pkg-cache-refresh", "apt-get update -q|dnf makecache -q", "onlyif:E: Failed to fetch http://mirror.example.net/dists/stable/InRelease  503  Service Unavailable", ""),
];

/// Each role's tree (`roles.<role>`); the sls column is left empty and filled in.
const ROLE_STATES: &[(&str, &[Spec])] = &[
    ("web", &[
        ("", "pkg.installed", "nginx", "nginx", "", ""),
        ("", "file.managed", "nginx-conf", "/etc/nginx/nginx.conf", "salt://roles/web/nginx.conf.j2", "nginx"),
        ("", "file.managed", "nginx-site", "/etc/nginx/sites-available/default|/etc/nginx/conf.d/default.conf", "salt://roles/web/site.conf.j2", "nginx"),
        ("", "file.directory", "webroot", "/var/www/html", "", ""),
        ("", "cmd.run", "nginx-configtest", "nginx -t", "onlyif:nginx: [emerg] unknown directive \"gzip_typez\" in /etc/nginx/nginx.conf:31\nnginx: configuration file /etc/nginx/nginx.conf test failed", "nginx-conf"),
        ("", "service.running", "nginx-service", "nginx", "", "nginx-conf"),
        ("", "pkg.installed", "certbot", "certbot", "", ""),
    ]),
    ("app", &[
        ("", "pkg.installed", "python3", "python3-venv|python3", "", ""),
        ("", "user.present", "app-user", "app", "", ""),
        ("", "file.directory", "app-dir", "/opt/app", "", "app-user"),
        ("", "file.managed", "app-unit", "/etc/systemd/system/app.service", "salt://roles/app/app.service.j2", ""),
        ("", "file.managed", "app-env", "/etc/app/env", "salt://roles/app/env.j2", "app-dir"),
        ("", "cmd.run", "app-migrate", "/opt/app/bin/migrate --check", "unless:error: 3 unapplied migrations (run /opt/app/bin/migrate)", "app-dir"),
        ("", "service.running", "app-service", "app", "", "app-unit"),
    ]),
    ("db", &[
        ("", "pkg.installed", "postgresql", "postgresql-15|postgresql15-server", "", ""),
        ("", "file.managed", "pg-conf", "/etc/postgresql/15/main/postgresql.conf|/var/lib/pgsql/15/data/postgresql.conf", "salt://roles/db/postgresql.conf.j2", "postgresql"),
        ("", "file.managed", "pg-hba", "/etc/postgresql/15/main/pg_hba.conf|/var/lib/pgsql/15/data/pg_hba.conf", "salt://roles/db/pg_hba.conf.j2", "postgresql"),
        ("", "service.running", "postgresql-service", "postgresql|postgresql-15", "", "pg-conf"),
        ("", "file.directory", "pg-backups", "/var/backups/postgresql", "", ""),
        ("", "cron.present", "pg-backup", "/usr/local/bin/pg_backup.sh", "", "pg-backups"),
    ]),
    ("cache", &[
        ("", "pkg.installed", "redis", "redis-server|redis", "", ""),
        ("", "file.managed", "redis-conf", "/etc/redis/redis.conf|/etc/redis/redis.conf", "salt://roles/cache/redis.conf.j2", "redis"),
        ("", "sysctl.present", "vm.overcommit_memory", "vm.overcommit_memory", "1", ""),
        ("", "cmd.run", "disable-thp", "echo never > /sys/kernel/mm/transparent_hugepage/enabled", "unless:sh: 1: cannot create /sys/kernel/mm/transparent_hugepage/enabled: Read-only file system", ""),
        ("", "service.running", "redis-service", "redis-server|redis", "", "redis-conf"),
    ]),
    ("k8s", &[
        ("", "pkg.installed", "containerd", "containerd", "", ""),
        ("", "pkg.installed", "kubelet", "kubelet", "", ""),
        ("", "file.managed", "containerd-conf", "/etc/containerd/config.toml", "salt://roles/k8s/containerd.toml", "containerd"),
        ("", "sysctl.present", "net.ipv4.ip_forward", "net.ipv4.ip_forward", "1", ""),
        ("", "cmd.run", "swapoff", "swapoff -a", "unless:swapoff: /swap.img: swapoff failed: Cannot allocate memory", ""),
        ("", "service.running", "containerd-service", "containerd", "", "containerd-conf"),
        ("", "service.running", "kubelet-service", "kubelet", "", "kubelet"),
    ]),
    ("lb", &[
        ("", "pkg.installed", "haproxy", "haproxy", "", ""),
        ("", "file.managed", "haproxy-cfg", "/etc/haproxy/haproxy.cfg", "salt://roles/lb/haproxy.cfg.j2", "haproxy"),
        ("", "service.running", "haproxy-service", "haproxy", "", "haproxy-cfg"),
        ("", "pkg.installed", "keepalived", "keepalived", "", ""),
        ("", "file.managed", "keepalived-conf", "/etc/keepalived/keepalived.conf", "salt://roles/lb/keepalived.conf.j2", "keepalived"),
        ("", "service.running", "keepalived-service", "keepalived", "", "keepalived-conf"),
    ]),
    ("mq", &[
        ("", "pkg.installed", "rabbitmq-server", "rabbitmq-server", "", ""),
        ("", "file.managed", "rabbitmq-conf", "/etc/rabbitmq/rabbitmq.conf", "salt://roles/mq/rabbitmq.conf.j2", "rabbitmq-server"),
        ("", "file.managed", "rabbitmq-plugins", "/etc/rabbitmq/enabled_plugins", "salt://roles/mq/enabled_plugins", "rabbitmq-server"),
        ("", "file.directory", "rabbitmq-data", "/var/lib/rabbitmq/mnesia", "", "rabbitmq-server"),
        ("", "service.running", "rabbitmq-service", "rabbitmq-server", "", "rabbitmq-conf"),
    ]),
    ("mon", &[
        ("", "pkg.installed", "prometheus", "prometheus", "", ""),
        ("", "file.managed", "prometheus-conf", "/etc/prometheus/prometheus.yml", "salt://roles/mon/prometheus.yml.j2", "prometheus"),
        ("", "file.managed", "prometheus-alerts", "/etc/prometheus/alerts.yml", "salt://roles/mon/alerts.yml", "prometheus"),
        ("", "cmd.run", "promtool-check", "promtool check config /etc/prometheus/prometheus.yml", "onlyif:FAILED: parsing YAML file /etc/prometheus/prometheus.yml: yaml: line 12: did not find expected key", "prometheus-conf"),
        ("", "service.running", "prometheus-service", "prometheus", "", "prometheus-conf"),
        ("", "pkg.installed", "grafana", "grafana", "", ""),
        ("", "service.running", "grafana-service", "grafana-server", "", "grafana"),
    ]),
    ("ci", &[
        ("", "pkg.installed", "docker", "docker.io|docker-ce", "", ""),
        ("", "group.present", "docker-group", "docker", "", ""),
        ("", "user.present", "gitlab-runner-user", "gitlab-runner", "", "docker-group"),
        ("", "pkg.installed", "gitlab-runner", "gitlab-runner", "", ""),
        ("", "file.managed", "gitlab-runner-conf", "/etc/gitlab-runner/config.toml", "salt://roles/ci/config.toml.j2", "gitlab-runner"),
        ("", "service.running", "docker-service", "docker", "", "docker"),
        ("", "service.running", "gitlab-runner-service", "gitlab-runner", "", "gitlab-runner-conf"),
    ]),
    ("storage", &[
        ("", "pkg.installed", "nfs-server", "nfs-kernel-server|nfs-utils", "", ""),
        ("", "file.directory", "export-dir", "/srv/export", "", ""),
        ("", "file.managed", "exports", "/etc/exports", "salt://roles/storage/exports.j2", "nfs-server"),
        ("", "cmd.run", "exportfs", "exportfs -ra", "onlyif:exportfs: Failed to stat /srv/export/projects: No such file or directory", "exports"),
        ("", "service.running", "nfs-service", "nfs-server", "", "exports"),
    ]),
];

/// Render errors of a broken sls (`{sls}` is the role's sls).
const RENDER_ERRORS: &[&[&str]] = &[
    &["Rendering SLS 'base:{sls}' failed: Jinja variable 'dict object' has no attribute 'listen_port'"],
    &["Rendering SLS 'base:{sls}' failed: Jinja syntax error: expected token 'end of statement block', got 'pillar'; line 14\n\n---\n[...]\n{% if pillar.get('tls') pillar['tls']['enabled'] %}    <======================\n---"],
    &["Rendering SLS 'base:{sls}' failed: Jinja variable 'salt.utils.odict.OrderedDict object' has no attribute 'version'"],
    &[
        "Pillar failed to render with the following messages:",
        "Rendering SLS 'secrets.{role}' failed. Please see master log for details.",
    ],
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Pkg,
    File,
    Dir,
    Service,
    User,
    Group,
    Sysctl,
    Cron,
    Cmd,
    SshAuth,
    Timezone,
}

impl Kind {
    fn of(fun: &str) -> Kind {
        match fun {
            "pkg.installed" => Kind::Pkg,
            "file.managed" => Kind::File,
            "file.directory" => Kind::Dir,
            "service.running" => Kind::Service,
            "user.present" => Kind::User,
            "group.present" => Kind::Group,
            "sysctl.present" => Kind::Sysctl,
            "cron.present" => Kind::Cron,
            "cmd.run" => Kind::Cmd,
            "ssh_auth.present" => Kind::SshAuth,
            _ => Kind::Timezone,
        }
    }

    /// Kinds that break in real fleets (a package, a config file, a service, a check).
    fn fragile(self) -> bool {
        matches!(
            self,
            Kind::Pkg | Kind::File | Kind::Service | Kind::Cmd | Kind::Sysctl
        )
    }

    /// `(min, max)` duration in ms when nothing changes.
    fn ok_ms(self) -> (f64, f64) {
        match self {
            Kind::Pkg => (12.0, 60.0),
            Kind::File => (4.0, 40.0),
            Kind::Dir => (0.8, 5.0),
            Kind::Service => (15.0, 90.0),
            Kind::User | Kind::Group => (4.0, 30.0),
            Kind::Sysctl => (2.0, 15.0),
            Kind::Cron => (4.0, 20.0),
            Kind::Cmd => (8.0, 60.0),
            Kind::SshAuth => (2.0, 10.0),
            Kind::Timezone => (20.0, 60.0),
        }
    }

    /// `(min, max)` duration in ms when it changes something (or fails doing so).
    fn change_ms(self) -> (f64, f64) {
        match self {
            Kind::Pkg => (2500.0, 40000.0),
            Kind::Service => (300.0, 3000.0),
            Kind::Cmd => (100.0, 5000.0),
            Kind::Timezone => (60.0, 200.0),
            other => {
                let (a, b) = other.ok_ms();
                (a * 2.0, b * 3.0)
            }
        }
    }
}

/// One state of a catalogue, with its constant JSON parts ready to copy.
struct StateDef {
    kind: Kind,
    id: &'static str,
    sls: String,
    name: &'static str,
    extra: &'static str,
    /// Index of the state it requires (always an earlier one).
    require: Option<usize>,
    /// `"<key>": {"__id__": "...", "__sls__": "...", "name": "...", "result": `
    open: String,
    /// `, "comment": "<comment when nothing changes>", "changes": {}`
    ok_tail: String,
    /// Seeds the pieces of text that vary (versions, pids, diffs) per state.
    salt: u64,
}

/// The states a (role, OS family) applies on `state.highstate`, in run order.
pub(crate) struct Catalogue {
    role: &'static str,
    states: Vec<StateDef>,
    /// Fragile states of the role's own tree, then of the common tree, whose failure fails
    /// at most 3 states (itself and what requires it).
    fragile_role: Vec<usize>,
    fragile_common: Vec<usize>,
    /// Managed files (what drifts).
    files: Vec<usize>,
}

fn pick_name(name: &'static str, debian: bool) -> &'static str {
    match name.split_once('|') {
        Some((deb, other)) => {
            if debian {
                deb
            } else {
                other
            }
        }
        None => name,
    }
}

fn js(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

impl Catalogue {
    /// The catalogue of `role` (a name from `ROLES`) on Debian-like (`debian`) or other
    /// systems.
    pub(crate) fn new(role: &'static str, debian: bool) -> Catalogue {
        let role_sls = format!("roles.{role}");
        let role_specs = ROLE_STATES
            .iter()
            .find(|(r, _)| *r == role)
            .map(|(_, s)| *s)
            .unwrap_or(&[]);
        let mut cat = Catalogue {
            role,
            states: vec![],
            fragile_role: vec![],
            fragile_common: vec![],
            files: vec![],
        };
        let specs = COMMON
            .iter()
            .map(|s| (false, s))
            .chain(role_specs.iter().map(|s| (true, s)));
        for (is_role, &(sls, fun, id, name, extra, require)) in specs {
            let sls = if is_role {
                role_sls.clone()
            } else {
                sls.to_string()
            };
            let kind = Kind::of(fun);
            let name = pick_name(name, debian);
            let (module, function) = fun.split_once('.').unwrap_or((fun, ""));
            let key = format!("{module}_|-{id}_|-{name}_|-{function}");
            let open = format!(
                "{}: {{\"__id__\": {}, \"__sls__\": {}, \"name\": {}, \"result\": ",
                js(&key),
                js(id),
                js(&sls),
                js(name)
            );
            let index = cat.states.len();
            let require = (!require.is_empty())
                .then(|| cat.states.iter().position(|s| s.id == require))
                .flatten();
            let mut def = StateDef {
                kind,
                id,
                sls,
                name,
                extra,
                require,
                open,
                ok_tail: String::new(),
                salt: fnv(&key),
            };
            def.ok_tail = format!(
                ", \"comment\": {}, \"changes\": {{}}",
                js(&def.ok_comment())
            );
            if kind.fragile() {
                if is_role {
                    cat.fragile_role.push(index);
                } else {
                    cat.fragile_common.push(index);
                }
            }
            if kind == Kind::File {
                cat.files.push(index);
            }
            cat.states.push(def);
        }
        let fails = cat.failing_with(&[]);
        let small = |i: &usize| fails[*i] <= MAX_FAILING;
        cat.fragile_role.retain(small);
        cat.fragile_common.retain(small);
        // Monitoring, cron and sysctl break more often than the basic packages.
        cat.fragile_common.reverse();
        cat
    }

    /// For each state, how many states fail when it fails (itself and what requires it,
    /// transitively), on top of those in `also`.
    fn failing_with(&self, also: &[usize]) -> Vec<usize> {
        (0..self.states.len())
            .map(|root| {
                let mut failed = vec![false; self.states.len()];
                failed[root] = true;
                for &a in also {
                    failed[a] = true;
                }
                for (i, s) in self.states.iter().enumerate() {
                    if s.require.is_some_and(|j| failed[j]) {
                        failed[i] = true;
                    }
                }
                failed.iter().filter(|f| **f).count()
            })
            .collect()
    }
}

/// How one state ends in one run.
#[derive(Clone, Copy, PartialEq)]
enum Outcome {
    Ok,
    Changed,
    /// Fails on its own (`variant` picks the message; `transient` messages differ).
    Failed {
        variant: u64,
        transient: bool,
    },
    /// A state it requires failed.
    RequisiteFailed(usize),
}

impl StateDef {
    fn cmd_guard(&self) -> (&'static str, &'static str) {
        self.extra.split_once(':').unwrap_or(("onlyif", ""))
    }

    fn ok_comment(&self) -> String {
        let n = self.name;
        match self.kind {
            Kind::Pkg => "All specified packages are already installed".into(),
            Kind::File => format!("File {n} is in the correct state"),
            Kind::Dir => format!("The directory {n} is in the correct state"),
            Kind::Service => format!("The service {n} is already running"),
            Kind::User => format!("User {n} is present and up to date"),
            Kind::Group => format!("Group {n} is present and up to date"),
            Kind::Sysctl => format!("Sysctl value {n} = {} is already set", self.extra),
            Kind::Cron => format!("Cron {n} already present"),
            Kind::Cmd => match self.cmd_guard().0 {
                "unless" => "unless condition is true".into(),
                _ => "onlyif condition is false".into(),
            },
            Kind::SshAuth => format!(
                "The authorized host key {n} is already present for user {}",
                self.extra
            ),
            Kind::Timezone => format!("Timezone {n} already set"),
        }
    }

    fn version(&self, debian: bool, bump: u64) -> String {
        let s = self.salt;
        let (a, b, c) = (1 + s % 9, (s >> 8) % 30, (s >> 16) % 12 + bump);
        if debian {
            format!(
                "{a}.{b}.{c}-{}ubuntu{}",
                1 + (s >> 24) % 4,
                1 + (s >> 28) % 3
            )
        } else {
            format!("{a}.{b}.{c}-{}.el9", 1 + (s >> 24) % 4)
        }
    }

    fn diff(&self, run: u64) -> String {
        let n = run % 97;
        format!(
            "--- \n+++ \n@@ -1,4 +1,4 @@\n # Managed by Salt ({}). Do not edit.\n-# revision {n}\n+# revision {}\n",
            self.sls,
            n + 1
        )
    }

    /// `(comment, changes)` of a state that changed (or, in test mode, would change).
    fn changed(&self, debian: bool, test: bool, run: u64) -> (String, Value) {
        let n = self.name;
        match (self.kind, test) {
            (Kind::Pkg, false) => (
                format!("The following packages were installed/updated: {n}"),
                json!({n: {"new": self.version(debian, 1), "old": self.version(debian, 0)}}),
            ),
            (Kind::Pkg, true) => (
                format!("The following packages would be installed/updated: {n}"),
                json!({}),
            ),
            (Kind::File, false) => (format!("File {n} updated"), json!({"diff": self.diff(run)})),
            (Kind::File, true) => (
                format!(
                    "The file {n} is set to be changed\nNote: No changes made, actual changes may\nbe different due to other states."
                ),
                json!({"diff": self.diff(run)}),
            ),
            (Kind::Dir, false) => (format!("Directory {n} updated"), json!({"mode": "0755"})),
            (Kind::Dir, true) => (
                format!("The following files will be changed:\n{n}: mode - 0755\n"),
                json!({n: {"mode": "0755"}}),
            ),
            (Kind::Service, false) => (
                format!("Service {n} has been enabled, and is running"),
                json!({n: true}),
            ),
            (Kind::Service, true) => (format!("Service {n} is set to start"), json!({})),
            (Kind::User, false) => (
                format!("Updated user {n}"),
                json!({"groups": [n, "ops", "sudo"]}),
            ),
            (Kind::User, true) => (
                "The following user attributes are set to be changed:\ngroups: ['ops', 'sudo']\n"
                    .into(),
                json!({}),
            ),
            (Kind::Group, false) => (
                format!("Updated group {n}"),
                json!({"members": ["alice", "bob", "deploy"]}),
            ),
            (Kind::Group, true) => (
                "The following group attributes are set to be changed:\nmembers: ['alice', 'bob', 'deploy']\n"
                    .into(),
                json!({}),
            ),
            (Kind::Sysctl, false) => (
                format!("Updated sysctl value {n} = {}", self.extra),
                json!({n: self.extra}),
            ),
            (Kind::Sysctl, true) => (
                format!("Sysctl option {n} set to be changed to {}", self.extra),
                json!({}),
            ),
            (Kind::Cron, false) => (format!("Cron {n} updated"), json!({"root": n})),
            (Kind::Cron, true) => (format!("Cron {n} is set to be updated"), json!({})),
            (Kind::Cmd, false) => (
                format!("Command \"{n}\" run"),
                json!({"pid": 2000 + (self.salt ^ run) % 60000, "retcode": 0, "stdout": "", "stderr": ""}),
            ),
            (Kind::Cmd, true) => (
                format!("Command \"{n}\" would have been executed"),
                json!({}),
            ),
            (Kind::SshAuth, false) => (
                format!(
                    "The authorized host key {n} for user {} was added",
                    self.extra
                ),
                json!({n: "New"}),
            ),
            (Kind::SshAuth, true) => (
                format!("Key {n} for user {} is set for addition", self.extra),
                json!({}),
            ),
            (Kind::Timezone, false) => (format!("Set timezone {n}"), json!({"timezone": n})),
            (Kind::Timezone, true) => (format!("Timezone {n} needs to be set"), json!({})),
        }
    }

    /// `(comment, changes)` of a state that failed on its own.
    fn failed(&self, debian: bool, variant: u64, transient: bool, run: u64) -> (String, Value) {
        let n = self.name;
        let v = variant % 3;
        let comment = match self.kind {
            Kind::Pkg if transient => {
                if debian {
                    "An error was encountered while installing package(s): E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 48211 (apt-get)".to_string()
                } else {
                    "An error was encountered while installing package(s): Error: Failed to download metadata for repo 'appstream': Cannot download repomd.xml: Curl error (28): Timeout was reached".to_string()
                }
            }
            Kind::Pkg => match (v, debian) {
                (0, true) => format!("An error was encountered while installing package(s): E: Unable to locate package {n}"),
                (0, false) => format!("An error was encountered while installing package(s): Error: Unable to find a match: {n}"),
                (1, true) => format!(
                    "An error was encountered while installing package(s): E: Version '{}' for '{n}' was not found",
                    self.version(true, 1)
                ),
                (1, false) => format!(
                    "An error was encountered while installing package(s): Error: No package {n}-{} available.",
                    self.version(false, 1)
                ),
                _ => format!("The following packages failed to install/update: {n}"),
            },
            Kind::File if transient => {
                format!("Unable to manage file: [Errno 28] No space left on device: '{n}'")
            }
            Kind::File => match v {
                0 => format!(
                    "Source file {} not found in saltenv 'base'",
                    self.extra
                ),
                1 => "Unable to manage file: Jinja variable 'dict object' has no attribute 'listen_port'".to_string(),
                _ => format!("Unable to manage file: [Errno 13] Permission denied: '{n}'"),
            },
            Kind::Service => match (v, transient) {
                (_, true) | (0, _) => format!("Service {n} failed to start"),
                (1, _) => format!("The named service {n} is not available"),
                _ => format!("Service {n} is not running"),
            },
            Kind::Cmd => {
                let stderr = self.cmd_guard().1;
                return (
                    format!("Command \"{n}\" run"),
                    json!({"pid": 2000 + (self.salt ^ run) % 60000, "retcode": 1, "stdout": "", "stderr": stderr}),
                );
            }
            Kind::Sysctl => format!(
                "Failed to set {n} to {}: sysctl: cannot stat /proc/sys/{}: No such file or directory",
                self.extra,
                n.replace('.', "/")
            ),
            Kind::User => format!("These values could not be changed: {{'groups': ['{n}', 'ops', 'sudo']}}"),
            Kind::Group => format!("Failed to create new group {n}"),
            Kind::Cron => format!("Cron {n} for user root failed to commit with error \"crontab: installing new crontab\""),
            Kind::Dir => format!("Failed to create directory {n}"),
            Kind::SshAuth => format!("Failed to add the ssh key. Source file {} is missing", self.extra),
            Kind::Timezone => format!("Failed to set timezone {n}"),
        };
        (comment, json!({}))
    }
}

/// What a `state.*` call applies: the whole tree or some sls, for real or in test mode.
pub(crate) struct StateCall {
    /// `None`: the highstate (every state of the minion's tree).
    mods: Option<Vec<String>>,
    test: bool,
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::String(s) => matches!(s.to_ascii_lowercase().as_str(), "true" | "1" | "yes"),
        Value::Number(n) => n.as_i64().is_some_and(|n| n != 0),
        _ => false,
    }
}

impl StateCall {
    /// The call a `state.*` job makes, from its function and arguments (positional, `k=v`
    /// strings and a `__kwarg__` object, as the job cache stores them); `None` for the state
    /// functions not simulated this way.
    pub(crate) fn parse(fun: &str, args: &[Value]) -> Option<StateCall> {
        let takes_mods = match fun {
            "state.apply" | "state.sls" => true,
            "state.highstate" | "state.top" => false,
            _ => return None,
        };
        let mut mods: Vec<String> = vec![];
        let mut test = false;
        let add_mods = |v: &Value, mods: &mut Vec<String>| match v {
            Value::String(s) => mods.extend(
                s.split(',')
                    .map(str::trim)
                    .filter(|m| !m.is_empty())
                    .map(String::from),
            ),
            Value::Array(a) => mods.extend(a.iter().filter_map(Value::as_str).map(String::from)),
            _ => {}
        };
        for a in args {
            match a {
                Value::Object(kw) => {
                    if let Some(t) = kw.get("test") {
                        test = truthy(t);
                    }
                    if let Some(m) = kw.get("mods") {
                        add_mods(m, &mut mods);
                    }
                }
                Value::String(s) if s.contains('=') => {
                    let (k, v) = s.split_once('=').unwrap_or((s, ""));
                    match k {
                        "test" => test = truthy(&Value::from(v)),
                        "mods" => add_mods(&Value::from(v), &mut mods),
                        _ => {}
                    }
                }
                other => add_mods(other, &mut mods),
            }
        }
        Some(StateCall {
            mods: (takes_mods && !mods.is_empty()).then_some(mods),
            test,
        })
    }
}

/// A minion's fixed traits (from its seed alone).
struct Persona {
    render_error: Option<usize>,
    /// States that fail in every run, with the message variant.
    broken: Vec<(usize, u64)>,
    /// A managed file that changes in every run (a timestamp in a template, say).
    drift: Option<usize>,
}

impl Persona {
    fn of(cat: &Catalogue, seed: u64) -> Persona {
        let mut p = Rng::new(seed);
        let x = p.unit();
        let mut persona = Persona {
            render_error: None,
            broken: vec![],
            drift: None,
        };
        if x < 0.01 {
            persona.render_error = Some(p.below(RENDER_ERRORS.len()));
        } else if x < 0.035 {
            let roots = 1 + usize::from(p.chance(0.25));
            for _ in 0..roots {
                let pool = if p.chance(0.7) && !cat.fragile_role.is_empty() {
                    &cat.fragile_role
                } else {
                    &cat.fragile_common
                };
                // Real breakage clusters (one bad change breaks the same state on many
                // minions, with the same message): skewed towards the first states of the
                // pool and the first message.
                let at = (p.unit().powi(3) * pool.len() as f64) as usize;
                let Some(&i) = pool.get(at) else {
                    continue;
                };
                let variant = if p.chance(0.75) { 0 } else { p.next_u64() };
                let so_far: Vec<usize> = persona.broken.iter().map(|b| b.0).collect();
                if !so_far.contains(&i) && cat.failing_with(&so_far)[i] <= MAX_FAILING {
                    persona.broken.push((i, variant));
                }
            }
        } else if x < 0.075 && !cat.files.is_empty() {
            persona.drift = Some(cat.files[p.below(cat.files.len())]);
        }
        persona
    }
}

/// Per-run shares (of minions that are connected).
const NO_RETURN: f64 = 0.03;
const TRANSIENT_FAILURE: f64 = 0.01;
const SOME_CHANGES: f64 = 0.12;
/// The most states a broken minion fails (its broken states and their dependents).
const MAX_FAILING: usize = 3;

/// Microseconds since midnight of a jid's time (`%Y%m%d%H%M%S%f`).
fn jid_day_micros(jid: &str) -> u64 {
    let num =
        |r: std::ops::Range<usize>| jid.get(r).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0);
    ((num(8..10) * 60 + num(10..12)) * 60 + num(12..14)) * 1_000_000 + num(14..20)
}

fn push_json(out: &mut String, v: &Value) {
    out.push_str(&serde_json::to_string(v).unwrap_or_else(|_| "null".into()));
}

/// Write one minion's return of `call` in job `jid` into `out` (the value of its `return`)
/// and give its retcode; `None` (nothing written) when the minion does not return in this
/// run. `seed` is the minion's own seed, `debian` its OS family.
pub(crate) fn write_return(
    cat: &Catalogue,
    seed: u64,
    debian: bool,
    jid: &str,
    call: &StateCall,
    out: &mut String,
) -> Option<i64> {
    let run_seed = seed ^ fnv(jid).rotate_left(17);
    let mut r = Rng::new(run_seed);
    if r.chance(NO_RETURN) {
        return None;
    }
    let role_sls = format!("roles.{}", cat.role);
    let selected: Vec<bool> = match &call.mods {
        None => vec![true; cat.states.len()],
        Some(mods) => {
            let matches = |m: &str, sls: &str| {
                sls == m || (sls.starts_with(m) && sls.as_bytes().get(m.len()) == Some(&b'.'))
            };
            let missing: Vec<&String> = mods
                .iter()
                .filter(|m| !cat.states.iter().any(|s| matches(m, &s.sls)))
                .collect();
            if !missing.is_empty() {
                let errs: Vec<String> = missing
                    .iter()
                    .map(|m| format!("No matching sls found for '{m}' in env 'base'"))
                    .collect();
                push_json(out, &json!(errs));
                return Some(1);
            }
            cat.states
                .iter()
                .map(|s| mods.iter().any(|m| matches(m, &s.sls)))
                .collect()
        }
    };
    let persona = Persona::of(cat, seed);
    let applies_role = cat
        .states
        .iter()
        .zip(&selected)
        .any(|(s, on)| *on && s.sls == role_sls);
    if let (Some(which), true) = (persona.render_error, applies_role) {
        let errs: Vec<String> = RENDER_ERRORS[which]
            .iter()
            .map(|e| e.replace("{sls}", &role_sls).replace("{role}", cat.role))
            .collect();
        push_json(out, &json!(errs));
        return Some(1);
    }

    let n = cat.states.len();
    let mut outcome = vec![Outcome::Ok; n];
    for &(i, variant) in &persona.broken {
        outcome[i] = Outcome::Failed {
            variant,
            transient: false,
        };
    }
    // Transient failures hit minions that are otherwise fine.
    if r.chance(TRANSIENT_FAILURE) && persona.broken.is_empty() {
        let pool: Vec<usize> = cat
            .fragile_role
            .iter()
            .chain(&cat.fragile_common)
            .copied()
            .filter(|i| cat.states[*i].kind != Kind::Cmd)
            .collect();
        if let Some(&i) = pool.get(r.below(pool.len())) {
            outcome[i] = Outcome::Failed {
                variant: 0,
                transient: true,
            };
        }
    }
    if let Some(i) = persona.drift {
        if outcome[i] == Outcome::Ok {
            outcome[i] = Outcome::Changed;
        }
    }
    if r.chance(SOME_CHANGES) {
        for _ in 0..1 + r.below(3) {
            let i = r.below(n);
            if outcome[i] == Outcome::Ok {
                outcome[i] = Outcome::Changed;
            }
        }
    }

    let mut failed = vec![false; n];
    let mut any_failed = false;
    // States start after the minion has compiled its tree (1.5-4 s after the publish).
    let mut clock = jid_day_micros(jid) + 1_500_000 + r.below(2_500_000) as u64;
    let run = fnv(jid);
    out.push('{');
    let mut run_num = 0usize;
    for i in 0..n {
        if !selected[i] {
            continue;
        }
        let def = &cat.states[i];
        let mut o = outcome[i];
        if let Some(req) = def.require.filter(|j| selected[*j] && failed[*j]) {
            o = Outcome::RequisiteFailed(req);
        }
        let ms = |r: &mut Rng, (lo, hi): (f64, f64)| lo + r.unit() * (hi - lo);
        let duration = match o {
            Outcome::Ok if def.kind == Kind::Pkg && run_num == 0 => ms(&mut r, (600.0, 1600.0)),
            Outcome::Ok => ms(&mut r, def.kind.ok_ms()),
            Outcome::Changed | Outcome::Failed { .. } => ms(&mut r, def.kind.change_ms()),
            Outcome::RequisiteFailed(_) => ms(&mut r, (0.004, 0.02)),
        };
        if run_num > 0 {
            out.push_str(", ");
        }
        out.push_str(&def.open);
        match o {
            Outcome::Ok => {
                out.push_str("true");
                out.push_str(&def.ok_tail);
            }
            Outcome::Changed => {
                let (comment, changes) = def.changed(debian, call.test, run);
                out.push_str(if call.test { "null" } else { "true" });
                let _ = write!(out, ", \"comment\": {}, \"changes\": ", js(&comment));
                push_json(out, &changes);
            }
            Outcome::Failed { variant, transient } => {
                failed[i] = true;
                any_failed = true;
                let (comment, changes) = def.failed(debian, variant, transient, run);
                let _ = write!(out, "false, \"comment\": {}, \"changes\": ", js(&comment));
                push_json(out, &changes);
            }
            Outcome::RequisiteFailed(j) => {
                failed[i] = true;
                any_failed = true;
                let req = &cat.states[j];
                let comment = format!("One or more requisite failed: {}.{}", req.sls, req.id);
                let _ = write!(
                    out,
                    "false, \"comment\": {}, \"changes\": {{}}",
                    js(&comment)
                );
            }
        }
        let t = clock % 86_400_000_000;
        let _ = write!(
            out,
            ", \"__run_num__\": {run_num}, \"start_time\": \"{:02}:{:02}:{:02}.{:06}\", \"duration\": {duration:.3}}}",
            t / 3_600_000_000,
            t / 60_000_000 % 60,
            t / 1_000_000 % 60,
            t % 1_000_000
        );
        clock += (duration * 1000.0) as u64 + 200 + r.below(3000) as u64;
        run_num += 1;
    }
    out.push('}');
    Some(if any_failed { 2 } else { 0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn returns(
        role: &'static str,
        call: &StateCall,
        jid: &str,
        n: u64,
    ) -> Vec<Option<(Value, i64)>> {
        let cat = Catalogue::new(role, true);
        (0..n)
            .map(|seed| {
                let mut out = String::new();
                write_return(&cat, seed * 7919, true, jid, call, &mut out)
                    .map(|rc| (serde_json::from_str(&out).expect("valid JSON"), rc))
            })
            .collect()
    }

    #[test]
    fn every_role_has_about_forty_states_with_valid_requisites() {
        for (role, _) in ROLE_STATES {
            for debian in [true, false] {
                let cat = Catalogue::new(role, debian);
                assert!(
                    (38..=45).contains(&cat.states.len()),
                    "{role}: {}",
                    cat.states.len()
                );
                for (i, s) in cat.states.iter().enumerate() {
                    assert!(s.require.is_none_or(|j| j < i), "{role}/{}", s.id);
                }
                let ids: std::collections::HashSet<&str> =
                    cat.states.iter().map(|s| s.id).collect();
                assert_eq!(ids.len(), cat.states.len(), "{role}: unique ids");
                assert!(!cat.fragile_role.is_empty());
            }
        }
    }

    #[test]
    fn a_realistic_mix() {
        let call = StateCall::parse("state.highstate", &[]).unwrap();
        let all = returns("web", &call, "20261127084927485894", 4000);
        let (mut none, mut render, mut failing, mut changed, mut clean) = (0, 0, 0, 0, 0);
        for r in &all {
            match r {
                None => none += 1,
                Some((Value::Array(_), rc)) => {
                    assert_eq!(*rc, 1);
                    render += 1;
                }
                Some((Value::Object(states), rc)) => {
                    assert!((38..=45).contains(&states.len()));
                    let fails = states.values().filter(|s| s["result"] == false).count();
                    let changes = states
                        .values()
                        .filter(|s| s["changes"].as_object().is_some_and(|c| !c.is_empty()))
                        .count();
                    if fails > 0 {
                        assert!(fails <= MAX_FAILING, "{fails} failing states");
                        assert_eq!(*rc, 2);
                        failing += 1;
                    } else if changes > 0 {
                        assert_eq!(*rc, 0);
                        changed += 1;
                    } else {
                        clean += 1;
                    }
                }
                Some(other) => panic!("unexpected return {other:?}"),
            }
        }
        let share = |k: usize| k as f64 / all.len() as f64;
        assert!(
            (0.015..0.05).contains(&share(none)),
            "no return {}",
            share(none)
        );
        assert!(
            (0.004..0.02).contains(&share(render)),
            "render {}",
            share(render)
        );
        assert!(
            (0.02..0.06).contains(&share(failing)),
            "failing {}",
            share(failing)
        );
        assert!(
            (0.08..0.25).contains(&share(changed)),
            "changed {}",
            share(changed)
        );
        assert!(share(clean) > 0.7, "healthy {}", share(clean));
    }

    #[test]
    fn deterministic_per_minion_and_run_but_runs_differ() {
        let call = StateCall::parse("state.apply", &[]).unwrap();
        let a = returns("db", &call, "20261127084927485894", 200);
        let b = returns("db", &call, "20261127084927485894", 200);
        let c = returns("db", &call, "20261127094927485894", 200);
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn sls_selection_test_mode_and_unknown_sls() {
        let call = StateCall::parse(
            "state.apply",
            &[
                json!("common.ssh"),
                json!({"__kwarg__": true, "test": true}),
            ],
        )
        .unwrap();
        assert!(call.test);
        let cat = Catalogue::new("web", false);
        let mut out = String::new();
        let mut seed = 0;
        while write_return(&cat, seed, false, "20261127084927485894", &call, &mut out).is_none() {
            seed += 1;
            out.clear();
        }
        let v: Value = serde_json::from_str(&out).unwrap();
        let states = v.as_object().unwrap();
        assert_eq!(states.len(), 3);
        assert!(states.contains_key("service_|-sshd-service_|-sshd_|-running"));
        assert!(states.values().all(|s| s["__sls__"] == "common.ssh"));

        let call = StateCall::parse("state.sls", &[json!("roles.nope")]).unwrap();
        out.clear();
        assert_eq!(
            write_return(&cat, seed, false, "20261127084927485894", &call, &mut out),
            Some(1)
        );
        assert_eq!(
            serde_json::from_str::<Value>(&out).unwrap(),
            json!(["No matching sls found for 'roles.nope' in env 'base'"])
        );
        assert!(StateCall::parse("state.single", &[]).is_none());
    }
}
