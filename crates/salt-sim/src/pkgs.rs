//! Installed packages (`pkg.list_pkgs`) of the simulated fleet, in the shape a real 3008
//! minion returns (`tests/fixtures/salt/3008.4/pkg_list_pkgs.json` and
//! `pkg_list_pkgs_as_list.json`): an object of package name -> version string (several
//! installed versions comma-joined), or with `versions_as_list` name -> list of versions.
//!
//! One catalogue per package flavour (Debian/Ubuntu apt, RedHat rpm, Suse rpm, Arch pacman):
//! about a hundred real packages with real version strings (every minion has them, some by
//! role), foreign-architecture ones (`libc6:i386`, `glibc.i686`) for a few multiarch minions,
//! and generated library/tool names to reach the configured count. Each package (each
//! source, really: `openssl` and `libssl3` move together) has one to four versions across the
//! fleet; most minions are on the newest, some lag one to three behind. `openssl` is spread on
//! purpose, with versions on both sides of 3.0.13 in every flavour.
//!
//! Only the catalogues (a few thousand strings) are kept: a minion's list is a pure function
//! of its seed, written straight into the reply whenever it is asked for.

use serde_json::Value;

/// A package flavour: how names and versions look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flavour {
    /// Debian and Ubuntu (`aptpkg`).
    Debian,
    /// RedHat, Rocky, Alma, Amazon (`yumpkg`).
    RedHat,
    /// openSUSE / SLES (`zypperpkg`).
    Suse,
    /// Arch (`pacmanpkg`).
    Arch,
}

const FLAVOURS: [Flavour; 4] = [
    Flavour::Debian,
    Flavour::RedHat,
    Flavour::Suse,
    Flavour::Arch,
];

impl Flavour {
    /// The flavour of an `os_family` grain (anything unknown is treated as RedHat-like).
    pub(crate) fn of(os_family: &str) -> Flavour {
        match os_family {
            "Debian" => Flavour::Debian,
            "Suse" => Flavour::Suse,
            "Arch" => Flavour::Arch,
            _ => Flavour::RedHat,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// What one minion's package list depends on.
pub(crate) struct Host {
    pub(crate) flavour: Flavour,
    /// From the fleet seed and the minion's index.
    pub(crate) seed: u64,
    pub(crate) role: &'static str,
    /// The `kernelrelease` grain: the newest installed kernel package matches it.
    pub(crate) kernelrelease: &'static str,
}

/// Which minions have a package.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum When {
    /// Every minion of the flavour.
    Always,
    /// Minions of one role.
    Role(&'static str),
    /// Multiarch minions only (`name:i386`, `name.i686`).
    Foreign,
    /// Installed with the catalogue's fill-up chance (generated names).
    Maybe,
}

/// Real packages: (names sharing a source and so a version, versions oldest first, who has
/// them). Empty versions: a kernel package, versioned from the minion's `kernelrelease`.
type Real = (&'static str, &'static [&'static str], When);

#[rustfmt::skip]
const DEBIAN: &[Real] = &[
    ("adduser", &["3.134"], When::Always),
    ("apt apt-utils libapt-pkg6.0", &["2.6.1"], When::Always),
    ("base-files", &["12.4+deb12u7", "12.4+deb12u8"], When::Always),
    ("base-passwd", &["3.6.1"], When::Always),
    ("bash", &["5.2.15-2+b2", "5.2.15-2+b7"], When::Always),
    ("bind9-dnsutils bind9-host bind9-libs dnsutils", &["1:9.18.24-1", "1:9.18.28-1~deb12u2"], When::Always),
    ("bsdutils", &["1:2.38.1-5+deb12u1", "1:2.38.1-5+deb12u3"], When::Always),
    ("ca-certificates", &["20230311"], When::Always),
    ("chrony", &["4.3-2+deb12u1"], When::Always),
    ("coreutils", &["9.1-1"], When::Always),
    ("cron cron-daemon-common", &["3.0pl1-162"], When::Always),
    ("curl libcurl4 libcurl3-gnutls", &["7.88.1-10+deb12u5", "7.88.1-10+deb12u8", "7.88.1-10+deb12u12"], When::Always),
    ("dash", &["0.5.12-2"], When::Always),
    ("dbus dbus-bin dbus-daemon libdbus-1-3", &["1.14.10-1~deb12u1"], When::Always),
    ("debconf", &["1.5.82"], When::Always),
    ("debianutils", &["5.7-0.5~deb12u1"], When::Always),
    ("diffutils", &["1:3.8-4"], When::Always),
    ("dpkg", &["1.21.22"], When::Always),
    ("e2fsprogs libext2fs2 libcom-err2 libss2", &["1.47.0-2"], When::Always),
    ("findutils", &["4.9.0-4"], When::Always),
    ("git git-man", &["1:2.39.2-1.1", "1:2.39.5-0+deb12u1"], When::Always),
    ("gnupg gpg gpgv gpg-agent dirmngr", &["2.2.40-1.1"], When::Always),
    ("grep", &["3.8-5"], When::Always),
    ("gzip", &["1.12-1"], When::Always),
    ("hostname", &["3.23+nmu1"], When::Always),
    ("htop", &["3.2.2-2"], When::Always),
    ("init-system-helpers", &["1.65.2"], When::Always),
    ("iproute2", &["6.1.0-3"], When::Always),
    ("iputils-ping", &["3:20221126-1"], When::Always),
    ("jq libjq1", &["1.6-2.1"], When::Always),
    ("less", &["590-2.1~deb12u2"], When::Always),
    ("libc6 libc-bin locales", &["2.36-9+deb12u4", "2.36-9+deb12u7", "2.36-9+deb12u9"], When::Always),
    ("libc6:i386", &["2.36-9+deb12u4", "2.36-9+deb12u7", "2.36-9+deb12u9"], When::Foreign),
    ("libgcc-s1 libstdc++6 gcc-12-base", &["12.2.0-14"], When::Always),
    ("libgcc-s1:i386 libstdc++6:i386", &["12.2.0-14"], When::Foreign),
    ("libgnutls30", &["3.7.9-2+deb12u3"], When::Always),
    ("libkrb5-3 libgssapi-krb5-2 libk5crypto3 libkrb5support0", &["1.20.1-2+deb12u1", "1.20.1-2+deb12u2"], When::Always),
    ("liblzma5 xz-utils", &["5.4.1-0.2"], When::Always),
    ("libpam0g libpam-modules libpam-modules-bin libpam-runtime", &["1.5.2-6+deb12u1"], When::Always),
    ("libsqlite3-0", &["3.40.1-2", "3.40.1-2+deb12u1"], When::Always),
    ("libxml2", &["2.9.14+dfsg-1.3~deb12u1"], When::Always),
    ("libzstd1", &["1.5.4+dfsg2-5"], When::Always),
    ("linux-base", &["4.9"], When::Always),
    ("login passwd", &["1:4.13+dfsg1-1+b1"], When::Always),
    ("logrotate", &["3.21.0-1"], When::Always),
    ("lsb-release", &["12.0-1"], When::Always),
    ("lsof", &["4.95.0-1"], When::Always),
    ("mount util-linux libblkid1 libmount1 libsmartcols1 libuuid1", &["2.38.1-5+deb12u1", "2.38.1-5+deb12u3"], When::Always),
    ("nano", &["7.2-1+deb12u1"], When::Always),
    ("ncurses-base ncurses-bin libncursesw6 libtinfo6", &["6.4-4"], When::Always),
    ("netbase", &["6.4"], When::Always),
    ("openssh-client openssh-server openssh-sftp-server", &["1:9.2p1-2+deb12u2", "1:9.2p1-2+deb12u3", "1:9.2p1-2+deb12u5"], When::Always),
    ("openssl libssl3", &["3.0.11-1~deb12u2", "3.0.13-1~deb12u1", "3.0.15-1~deb12u1"], When::Always),
    ("perl-base", &["5.36.0-7+deb12u1"], When::Always),
    ("procps libproc2-0", &["2:4.0.2-3"], When::Always),
    ("prometheus-node-exporter", &["1.5.0-1+b6"], When::Always),
    ("python3 python3-minimal", &["3.11.2-1+b1"], When::Always),
    ("python3.11 python3.11-minimal libpython3.11-minimal libpython3.11-stdlib", &["3.11.2-6", "3.11.2-6+deb12u4"], When::Always),
    ("rsync", &["3.2.7-1", "3.2.7-1+deb12u2"], When::Always),
    ("rsyslog", &["8.2302.0-1"], When::Always),
    ("sed", &["4.9-1"], When::Always),
    ("sudo", &["1.9.13p3-1+deb12u1"], When::Always),
    ("systemd systemd-sysv systemd-timesyncd libsystemd0 libsystemd-shared libudev1 udev", &["252.26-1~deb12u2", "252.30-1~deb12u2", "252.33-1~deb12u1"], When::Always),
    ("tar", &["1.34+dfsg-1.2+deb12u1"], When::Always),
    ("tmux", &["3.3a-3"], When::Always),
    ("tzdata", &["2024a-0+deb12u1", "2024b-0+deb12u1"], When::Always),
    ("unattended-upgrades", &["2.9.1+nmu3"], When::Always),
    ("vim vim-common vim-runtime xxd", &["2:9.0.1378-2"], When::Always),
    ("wget", &["1.21.3-1+b2"], When::Always),
    ("zlib1g", &["1:1.2.13.dfsg-1"], When::Always),
    ("zlib1g:i386", &["1:1.2.13.dfsg-1"], When::Foreign),
    ("nginx nginx-common", &["1.22.1-9"], When::Role("web")),
    ("certbot python3-certbot", &["2.1.0-4"], When::Role("web")),
    ("python3-venv python3-pip", &["3.11.2-1+b1"], When::Role("app")),
    ("gunicorn", &["20.1.0-6"], When::Role("app")),
    ("postgresql-15 postgresql-client-15 libpq5", &["15.8-0+deb12u1", "15.10-0+deb12u1"], When::Role("db")),
    ("redis-server redis-tools", &["5:7.0.15-1~deb12u1"], When::Role("cache")),
    ("containerd", &["1.6.20~ds1-1+b1"], When::Role("k8s")),
    ("kubelet kubectl kubeadm", &["1.30.5-1.1", "1.30.6-1.1"], When::Role("k8s")),
    ("haproxy", &["2.6.12-1+deb12u1"], When::Role("lb")),
    ("keepalived", &["1:2.2.7-1+b2"], When::Role("lb")),
    ("rabbitmq-server", &["3.10.8-1.1"], When::Role("mq")),
    ("prometheus", &["2.42.0+ds-5+b5"], When::Role("mon")),
    ("grafana", &["11.2.2", "11.3.0"], When::Role("mon")),
    ("docker-ce docker-ce-cli", &["5:27.3.1-1~debian.12~bookworm"], When::Role("ci")),
    ("git-lfs", &["3.3.0-1+b5"], When::Role("ci")),
    ("nfs-kernel-server nfs-common", &["1:2.6.2-4"], When::Role("storage")),
    ("ceph-common", &["16.2.15+ds-0+deb12u1"], When::Role("storage")),
];

#[rustfmt::skip]
const REDHAT: &[Real] = &[
    ("audit audit-libs", &["3.1.2-2.el9"], When::Always),
    ("bash", &["5.1.8-9.el9"], When::Always),
    ("bind-utils bind-libs bind-license", &["32:9.16.23-18.el9_4.6"], When::Always),
    ("ca-certificates", &["2024.2.69_v8.0.303-91.4.el9_4"], When::Always),
    ("chrony", &["4.5-1.el9"], When::Always),
    ("coreutils coreutils-common", &["8.32-35.el9"], When::Always),
    ("cronie cronie-anacron", &["1.5.7-11.el9"], When::Always),
    ("crypto-policies", &["20240202-1.git283706d.el9"], When::Always),
    ("curl libcurl", &["7.76.1-29.el9_4", "7.76.1-29.el9_4.1", "7.76.1-31.el9"], When::Always),
    ("dnf dnf-data python3-dnf yum", &["4.14.0-9.el9"], When::Always),
    ("dnf-automatic", &["4.14.0-9.el9"], When::Always),
    ("findutils", &["1:4.8.0-7.el9"], When::Always),
    ("firewalld firewalld-filesystem python3-firewall", &["1.3.4-1.el9"], When::Always),
    ("git git-core git-core-doc", &["2.43.5-1.el9_4"], When::Always),
    ("glibc glibc-common glibc-langpack-en glibc-minimal-langpack", &["2.34-100.el9_4.2", "2.34-100.el9_4.4", "2.34-125.el9_5.1"], When::Always),
    ("glibc.i686", &["2.34-100.el9_4.2", "2.34-100.el9_4.4", "2.34-125.el9_5.1"], When::Foreign),
    ("gnupg2", &["2.3.3-4.el9"], When::Always),
    ("golang-github-prometheus-node-exporter", &["1.7.0-1.el9"], When::Always),
    ("grep", &["3.6-5.el9"], When::Always),
    ("htop", &["3.3.0-1.el9"], When::Always),
    ("jq", &["1.6-16.el9"], When::Always),
    ("kernel kernel-core kernel-modules kernel-modules-core", &[], When::Always),
    ("libgcc libstdc++", &["11.4.1-3.el9"], When::Always),
    ("libgcc.i686 libstdc++.i686", &["11.4.1-3.el9"], When::Foreign),
    ("libxml2", &["2.9.13-6.el9_4"], When::Always),
    ("logrotate", &["3.18.0-8.el9"], When::Always),
    ("lsof", &["4.94.0-3.el9"], When::Always),
    ("NetworkManager NetworkManager-libnm", &["1:1.46.0-19.el9_4"], When::Always),
    ("openssh openssh-clients openssh-server", &["8.7p1-38.el9", "8.7p1-38.el9_4.4", "8.7p1-43.el9"], When::Always),
    ("openssl openssl-libs", &["1:3.0.7-25.el9_3", "1:3.0.7-27.el9", "1:3.2.2-6.el9_5"], When::Always),
    ("pam", &["1.5.1-19.el9"], When::Always),
    ("procps-ng", &["3.3.17-14.el9"], When::Always),
    ("python3 python3-libs", &["3.9.18-3.el9_4.5", "3.9.19-8.el9_5.1"], When::Always),
    ("rpm rpm-libs rpm-build-libs python3-rpm", &["4.16.1.3-29.el9", "4.16.1.3-34.el9"], When::Always),
    ("rsync", &["3.2.3-19.el9"], When::Always),
    ("rsyslog", &["8.2310.0-4.el9"], When::Always),
    ("sed", &["4.8-9.el9"], When::Always),
    ("selinux-policy selinux-policy-targeted", &["38.1.35-2.el9_4.2", "38.1.45-3.el9_5"], When::Always),
    ("shadow-utils", &["2:4.9-8.el9"], When::Always),
    ("sqlite-libs", &["3.34.1-7.el9_3"], When::Always),
    ("sudo", &["1.9.5p2-10.el9_3"], When::Always),
    ("systemd systemd-libs systemd-pam systemd-udev", &["252-32.el9_4", "252-46.el9_5.2"], When::Always),
    ("tar", &["2:1.34-6.el9_4.1"], When::Always),
    ("tmux", &["3.2a-5.el9"], When::Always),
    ("tzdata", &["2024a-1.el9", "2024b-2.el9"], When::Always),
    ("util-linux util-linux-core libblkid libmount libuuid", &["2.37.4-18.el9"], When::Always),
    ("vim-minimal", &["2:8.2.2637-20.el9_1"], When::Always),
    ("vim-common vim-enhanced vim-filesystem", &["2:8.2.2637-20.el9_1", "2:8.2.2637-21.el9"], When::Always),
    ("xz xz-libs", &["5.2.5-8.el9_0"], When::Always),
    ("zlib", &["1.2.11-40.el9"], When::Always),
    ("zlib.i686", &["1.2.11-40.el9"], When::Foreign),
    ("nginx nginx-core nginx-filesystem", &["1:1.20.1-16.el9_4.1"], When::Role("web")),
    ("certbot python3-certbot", &["2.11.0-1.el9"], When::Role("web")),
    ("python3-pip", &["21.2.3-8.el9"], When::Role("app")),
    ("postgresql postgresql-server postgresql-private-libs", &["13.14-1.el9_3", "13.16-1.el9_4"], When::Role("db")),
    ("redis", &["6.2.7-1.el9"], When::Role("cache")),
    ("containerd.io", &["1.7.22-3.1.el9"], When::Role("k8s")),
    ("kubelet kubectl kubeadm", &["1.30.5-150500.1.1", "1.30.6-150500.1.1"], When::Role("k8s")),
    ("haproxy", &["2.4.22-3.el9_3"], When::Role("lb")),
    ("keepalived", &["2.2.8-3.el9"], When::Role("lb")),
    ("rabbitmq-server", &["3.12.14-1.el8"], When::Role("mq")),
    ("grafana", &["10.2.6-7.el9_5"], When::Role("mon")),
    ("docker-ce docker-ce-cli", &["3:27.3.1-1.el9"], When::Role("ci")),
    ("nfs-utils", &["1:2.5.4-26.el9_4"], When::Role("storage")),
];

#[rustfmt::skip]
const SUSE: &[Real] = &[
    ("aaa_base", &["84.87+git20180409.04c9dae-150300.10.20.1"], When::Always),
    ("bash", &["4.4-150400.27.3.2"], When::Always),
    ("bind-utils", &["9.18.28-150600.3.6.1"], When::Always),
    ("ca-certificates ca-certificates-mozilla", &["2.68-150200.33.1"], When::Always),
    ("chrony", &["4.1-150400.21.5.1"], When::Always),
    ("coreutils", &["8.32-150400.9.6.1"], When::Always),
    ("cron cronie", &["1.5.7-150400.84.6.1"], When::Always),
    ("curl libcurl4", &["8.6.0-150600.4.6.1", "8.6.0-150600.4.12.1"], When::Always),
    ("findutils", &["4.8.0-1.20"], When::Always),
    ("git-core", &["2.43.0-150600.3.6.1"], When::Always),
    ("glibc glibc-locale glibc-locale-base", &["2.38-150600.14.8.2", "2.38-150600.14.14.2"], When::Always),
    ("grep", &["3.11-150600.1.2"], When::Always),
    ("htop", &["3.2.1-150400.3.5.1"], When::Always),
    ("jq libjq1", &["1.6-3.3.1"], When::Always),
    ("kernel-default", &[], When::Always),
    ("libz1 zlib-devel", &["1.2.13-150500.4.3.1"], When::Always),
    ("logrotate", &["3.18.1-150400.3.7.1"], When::Always),
    ("lsof", &["4.91-1.31"], When::Always),
    ("openssh openssh-clients openssh-common openssh-server", &["9.6p1-150600.6.9.1", "9.6p1-150600.6.15.1"], When::Always),
    ("openssl libopenssl3 openssl-3", &["3.0.8-150500.5.14.1", "3.1.4-150600.5.15.1", "3.1.4-150600.5.21.1"], When::Always),
    ("pam", &["1.3.0-150000.6.71.2"], When::Always),
    ("procps libprocps8", &["3.3.17-150000.7.39.1"], When::Always),
    ("python3 python3-base", &["3.6.15-150300.10.65.1"], When::Always),
    ("python311 python311-base", &["3.11.10-150600.3.6.1"], When::Always),
    ("rpm", &["4.14.3-150400.59.16.1"], When::Always),
    ("rsync", &["3.2.7-150600.3.3.2"], When::Always),
    ("rsyslog", &["8.2406.0-150600.12.3.1"], When::Always),
    ("sed", &["4.9-150600.1.4"], When::Always),
    ("shadow", &["4.8.1-150400.10.18.1"], When::Always),
    ("sudo", &["1.9.15p5-150600.3.3.2"], When::Always),
    ("systemd libsystemd0 udev libudev1", &["254.18-150600.4.15.1", "254.21-150600.4.21.1"], When::Always),
    ("tar", &["1.34-150000.3.34.1"], When::Always),
    ("timezone", &["2024a-150000.75.28.1", "2024b-150000.75.31.1"], When::Always),
    ("tmux", &["3.3a-150600.1.2"], When::Always),
    ("util-linux libblkid1 libmount1 libuuid1", &["2.39.3-150600.4.12.2"], When::Always),
    ("vim vim-data-common", &["9.1.0836-150500.20.15.1"], When::Always),
    ("zypper libzypp", &["1.14.77-150600.10.13.1"], When::Always),
    ("nginx", &["1.21.5-150600.10.9.1"], When::Role("web")),
    ("postgresql16 postgresql16-server", &["16.4-150600.16.5.1"], When::Role("db")),
    ("redis7", &["7.2.4-150600.3.3.1"], When::Role("cache")),
    ("haproxy", &["2.8.8+git0.f6a9efd0b-150600.3.3.1"], When::Role("lb")),
];

#[rustfmt::skip]
const ARCH: &[Real] = &[
    ("archlinux-keyring", &["20241015-1"], When::Always),
    ("bash", &["5.2.032-1", "5.2.037-1"], When::Always),
    ("bind", &["9.20.3-1"], When::Always),
    ("ca-certificates", &["20240618-1"], When::Always),
    ("chrony", &["4.6.1-1"], When::Always),
    ("coreutils", &["9.5-2"], When::Always),
    ("cronie", &["1.7.2-1"], When::Always),
    ("curl libcurl-compat", &["8.10.1-1", "8.11.0-1"], When::Always),
    ("e2fsprogs", &["1.47.1-4"], When::Always),
    ("filesystem", &["2024.04.07-1"], When::Always),
    ("findutils", &["4.10.0-2"], When::Always),
    ("gcc-libs", &["14.2.1+r134+gab884fffe3fc-1"], When::Always),
    ("git", &["2.47.0-1", "2.47.1-1"], When::Always),
    ("glibc", &["2.40+r16+gaa533d58ff-2"], When::Always),
    ("gnupg", &["2.4.5-4"], When::Always),
    ("grep", &["3.11-1"], When::Always),
    ("htop", &["3.3.0-3"], When::Always),
    ("iproute2", &["6.11.0-1"], When::Always),
    ("iputils", &["20240905-1"], When::Always),
    ("jq", &["1.7.1-2"], When::Always),
    ("libxml2", &["2.13.4-1", "2.13.5-1"], When::Always),
    ("linux", &[], When::Always),
    ("linux-firmware", &["20241111.b5885ec5-1"], When::Always),
    ("logrotate", &["3.22.0-1"], When::Always),
    ("lsof", &["4.99.4-1"], When::Always),
    ("openssh", &["9.8p1-1", "9.9p1-2"], When::Always),
    ("openssl", &["3.0.8-1", "3.3.2-1", "3.4.0-1"], When::Always),
    ("pacman pacman-mirrorlist", &["7.0.0.r3.g7736133-1"], When::Always),
    ("pam", &["1.6.1-3"], When::Always),
    ("procps-ng", &["4.0.4-3"], When::Always),
    ("python", &["3.12.7-1"], When::Always),
    ("rsync", &["3.3.0-2"], When::Always),
    ("sed", &["4.9-3"], When::Always),
    ("shadow", &["4.16.0-1"], When::Always),
    ("sqlite", &["3.46.1-1", "3.47.0-1"], When::Always),
    ("sudo", &["1.9.16-2"], When::Always),
    ("systemd systemd-libs systemd-sysvcompat", &["256.7-1", "256.8-1"], When::Always),
    ("tar", &["1.35-2"], When::Always),
    ("tmux", &["3.5_a-1"], When::Always),
    ("tzdata", &["2024b-2"], When::Always),
    ("util-linux util-linux-libs", &["2.40.2-1"], When::Always),
    ("vim vim-runtime", &["9.1.0866-1"], When::Always),
    ("xz", &["5.6.3-1"], When::Always),
    ("zlib", &["1:1.3.1-2"], When::Always),
    ("nginx", &["1.26.2-3"], When::Role("web")),
    ("postgresql postgresql-libs", &["16.4-5", "17.2-1"], When::Role("db")),
    ("valkey", &["8.0.1-1"], When::Role("cache")),
];

/// Stems of the generated names (library and tool names of the kind every distribution ships).
#[rustfmt::skip]
const STEMS: &[&str] = &[
    "xml2", "yaml", "expat", "ffi", "gmp", "mpfr", "isl", "ldap", "sasl2", "idn2", "unistring",
    "psl", "nghttp2", "ssh2", "brotli", "lz4", "bz2", "png", "jpeg", "tiff", "webp", "gif",
    "freetype", "fontconfig", "harfbuzz", "pango", "cairo", "pixman", "glib", "atk", "gtk3",
    "x11", "xext", "xrender", "xrandr", "xcb", "xau", "xdmcp", "drm", "gbm", "egl", "wayland",
    "input", "evdev", "usb", "pci", "sensors", "pcap", "nl", "nftnl", "mnl", "netfilter", "cap",
    "acl", "attr", "selinux", "semanage", "sepol", "seccomp", "apparmor", "pwquality", "cracklib",
    "gcrypt", "gpg-error", "assuan", "ksba", "npth", "tasn1", "p11-kit", "nettle", "nss", "nspr",
    "sodium", "argon2", "fdisk", "magic", "archive", "event", "ev", "uv", "lua", "luajit", "pcre",
    "onig", "tcl", "tk", "readline", "edit", "slang", "newt", "popt", "json-c", "jansson",
    "yajl", "protobuf", "grpc", "re2", "abseil", "snappy", "leveldb", "rocksdb", "lmdb", "gdbm",
    "tdb", "tevent", "talloc", "ldb", "wbclient", "smbclient", "keyutils", "verto", "bpf",
    "elf", "dw", "unwind", "numa", "hwloc", "ibverbs", "rdmacm", "fuse", "aio", "uring",
    "inih", "ini-config", "collection", "dhash", "basicobjects", "ref-array", "path-utils",
    "nfsidmap", "tirpc", "nsl", "jemalloc", "tcmalloc", "boost", "icu", "xslt", "exslt",
    "curses", "gpm", "mpdec", "blas", "lapack", "fftw", "hdf5", "netcdf", "proj", "geos",
    "gdal", "sqlcipher", "mariadb", "pq", "odbc", "memcached", "zmq", "rabbitmq", "mosquitto",
    "avahi", "cups", "sane", "pulse", "asound", "sndfile", "flac", "vorbis", "ogg", "opus",
    "mpg123", "lame", "x264", "x265", "vpx", "dav1d", "aom", "theora", "speex", "gsm",
];

/// Name templates per flavour (`{}` = a stem).
const DEBIAN_TEMPLATES: &[&str] = &[
    "lib{}0",
    "lib{}-dev",
    "lib{}-doc",
    "lib{}-common",
    "{}-utils",
    "python3-{}",
    "lib{}-perl",
    "golang-{}-dev",
    "node-{}",
    "ruby-{}",
    "lib{}1",
    "lib{}-bin",
    "{}-data",
];
const RPM_TEMPLATES: &[&str] = &[
    "lib{}",
    "lib{}-devel",
    "{}-libs",
    "{}-devel",
    "{}-doc",
    "python3-{}",
    "perl-{}",
    "golang-{}",
    "rubygem-{}",
    "{}-tools",
    "{}-common",
    "lib{}-static",
    "{}-data",
];
const ARCH_TEMPLATES: &[&str] = &[
    "lib{}",
    "lib32-lib{}",
    "python-{}",
    "perl-{}",
    "{}-docs",
    "ruby-{}",
    "haskell-{}",
    "nodejs-{}",
    "{}-tools",
    "go-{}",
    "lua-{}",
    "{}-utils",
    "{}-data",
];

/// One package of a catalogue.
struct Entry {
    /// The name as a JSON string (quotes included).
    name: Box<str>,
    /// Versions across the fleet, oldest first, as JSON strings; empty for a kernel package.
    versions: Box<[Box<str>]>,
    /// Packages of one source share it, and so their version on a minion.
    group: u64,
    when: When,
    /// Spread over the fleet on purpose (newest 45%, the rest evenly), not by the minion's lag.
    spread: bool,
}

/// Every package of one flavour, sorted by name (the order a reply lists them in).
struct Catalogue {
    entries: Vec<Entry>,
    /// Chance (out of 2^32) that a minion has one generated (`When::Maybe`) package.
    maybe: u64,
}

/// The package catalogues of the fleet, one per flavour.
pub(crate) struct Catalogues {
    by_flavour: Vec<Catalogue>,
}

fn quoted(s: &str) -> Box<str> {
    serde_json::to_string(s)
        .unwrap_or_else(|_| "\"\"".into())
        .into_boxed_str()
}

/// SplitMix64 finaliser: a well-mixed 64-bit hash of `x`.
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn group_of(s: &str) -> u64 {
    s.bytes().fold(0xCBF2_9CE4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01B3)
    })
}

/// A generated version: `(epoch, major, minor, patch, revision, style)`, printed per flavour.
fn generated_version(f: Flavour, h: u64, rev: u64) -> String {
    let epoch = if h.is_multiple_of(20) {
        1 + (h >> 8) % 3
    } else {
        0
    };
    let (maj, min, pat) = ((h >> 12) % 9, (h >> 16) % 31, (h >> 24) % 21);
    let style = (h >> 32) % 10;
    let up = format!("{maj}.{min}.{pat}");
    let v = match f {
        Flavour::Debian => match style {
            0..=3 => format!("{up}-{rev}"),
            4 | 5 => format!("{up}-1+b{rev}"),
            6 | 7 => format!("{up}-1~deb12u{rev}"),
            8 => format!("{up}+dfsg-{rev}"),
            _ => format!("{up}+ds{rev}"),
        },
        Flavour::RedHat => match style {
            0..=4 => format!("{up}-{rev}.el9"),
            5..=7 => format!("{up}-{rev}.el9_4"),
            _ => format!("{up}-{rev}.el9_5.1"),
        },
        Flavour::Suse => format!("{up}-150600.{}.{rev}.1", 1 + (h >> 40) % 20),
        Flavour::Arch => format!("{up}-{rev}"),
    };
    if epoch > 0 {
        format!("{epoch}:{v}")
    } else {
        v
    }
}

impl Catalogue {
    fn new(f: Flavour, seed: u64, per_minion: usize) -> Catalogue {
        let (real, templates) = match f {
            Flavour::Debian => (DEBIAN, DEBIAN_TEMPLATES),
            Flavour::RedHat => (REDHAT, RPM_TEMPLATES),
            Flavour::Suse => (SUSE, RPM_TEMPLATES),
            Flavour::Arch => (ARCH, ARCH_TEMPLATES),
        };
        let mut entries = vec![];
        let mut seen = std::collections::HashSet::new();
        let mut always = 0usize;
        for (names, versions, when) in real {
            // `libc6:i386` and `glibc.i686` move with their native package (dpkg insists).
            let first = names.split_whitespace().next().unwrap_or(names);
            let native = first
                .strip_suffix(":i386")
                .or_else(|| first.strip_suffix(".i686"))
                .unwrap_or(first);
            let group = group_of(native);
            for name in names.split_whitespace() {
                if !seen.insert(name.to_string()) {
                    continue;
                }
                always += usize::from(*when == When::Always);
                entries.push(Entry {
                    name: quoted(name),
                    versions: versions.iter().map(|v| quoted(v)).collect(),
                    group,
                    when: *when,
                    spread: first == "openssl",
                });
            }
        }
        // Generated names: enough that a minion picks ~`per_minion` in all, with ~15% of the
        // pool left out on each minion (so fleets differ).
        let want = per_minion.saturating_sub(always);
        let pool = want + want.div_ceil(6);
        let mut made = 0usize;
        'fill: for (round, stem) in (0..).zip(STEMS.iter().cycle()) {
            if made >= pool || round > STEMS.len() * templates.len() * 4 {
                break;
            }
            // Past one lap of the stems, numbered stems (`xml2-3`) keep names unique.
            let lap = round / STEMS.len();
            let stem = if lap == 0 {
                stem.to_string()
            } else {
                format!("{stem}{lap}")
            };
            let h = mix(seed ^ group_of(&stem));
            let versions_n = 1 + [0, 0, 0, 1, 1, 1, 1, 2, 2, 3][(h % 10) as usize];
            let top = 2 + (h >> 50) % 6 + versions_n as u64;
            let versions: Box<[Box<str>]> = (0..versions_n)
                .map(|i| {
                    quoted(&generated_version(
                        f,
                        h,
                        top + 1 - versions_n as u64 + i as u64,
                    ))
                })
                .collect();
            for t in templates {
                if made >= pool {
                    break 'fill;
                }
                let name = t.replace("{}", &stem);
                if !seen.insert(name.clone()) {
                    continue;
                }
                entries.push(Entry {
                    name: quoted(&name),
                    versions: versions.clone(),
                    group: group_of(&stem),
                    when: When::Maybe,
                    spread: false,
                });
                made += 1;
            }
        }
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        let maybe = if made == 0 {
            0
        } else {
            ((want.min(made) as u64) << 32) / made as u64
        };
        Catalogue { entries, maybe }
    }
}

/// The kernel package's installed versions from the `kernelrelease` grain: the running one
/// plus up to two older ones (`installonly_limit`), sorted as strings like Salt's
/// `pkg_resource.sort_pkglist` does (so `503.8.1` comes after `503.14.1`).
fn kernel_versions(f: Flavour, kernelrelease: &str, h: u64) -> Vec<String> {
    let newest = match f {
        // 6.12.1-arch1-1 -> 6.12.1.arch1-1
        Flavour::Arch => kernelrelease.replacen('-', ".", 1),
        // 6.4.0-150600.23.25-default -> 6.4.0-150600.23.25.1
        Flavour::Suse => format!("{}.1", kernelrelease.trim_end_matches("-default")),
        // 5.14.0-427.42.1.el9_4.x86_64 -> 5.14.0-427.42.1.el9_4
        _ => kernelrelease.trim_end_matches(".x86_64").to_string(),
    };
    let mut out = vec![newest.clone()];
    let extra = if f == Flavour::Arch { 0 } else { h % 3 };
    // An older build of the same release: the second release field counts down.
    if let Some((up, rel)) = newest.split_once('-') {
        let fields: Vec<&str> = rel.split('.').collect();
        if let Some(n) = fields.get(1).and_then(|x| x.parse::<u64>().ok()) {
            for j in 1..=extra {
                let Some(older) = n.checked_sub(3 * j).filter(|o| *o > 0) else {
                    break;
                };
                let mut f2: Vec<String> = fields.iter().map(|s| s.to_string()).collect();
                f2[1] = older.to_string();
                out.push(format!("{up}-{}", f2.join(".")));
            }
        }
    }
    out.sort();
    out
}

impl Catalogues {
    /// The catalogues of a fleet (`per_minion`: about how many packages a minion has).
    pub(crate) fn new(seed: u64, per_minion: usize) -> Catalogues {
        Catalogues {
            by_flavour: FLAVOURS
                .iter()
                .map(|f| Catalogue::new(*f, seed, per_minion))
                .collect(),
        }
    }

    /// Write one minion's `pkg.list_pkgs` return (a JSON object) to `out`.
    pub(crate) fn write_list_pkgs(&self, host: &Host, as_list: bool, out: &mut String) {
        let Some(cat) = self.by_flavour.get(host.flavour.index()) else {
            out.push_str("{}");
            return;
        };
        let h = mix(host.seed);
        // A minion's habits: how far behind it tends to be, whether it has a second arch.
        let lag = [3u64, 3, 3, 3, 3, 3, 15, 15, 15, 50][(h % 10) as usize];
        let foreign = (h >> 8) % 100 < 12;
        let kernel = kernel_versions(host.flavour, host.kernelrelease, h >> 16);
        out.reserve(cat.entries.len() * 32);
        out.push('{');
        let mut first = true;
        for (i, e) in cat.entries.iter().enumerate() {
            let has = match e.when {
                When::Always => true,
                When::Role(r) => r == host.role,
                When::Foreign => foreign,
                When::Maybe => {
                    (mix(host.seed ^ (i as u64).wrapping_mul(0xA24B_AED4_963E_E407)) & 0xFFFF_FFFF)
                        < cat.maybe
                }
            };
            if !has {
                continue;
            }
            if !first {
                out.push_str(", ");
            }
            first = false;
            out.push_str(&e.name);
            out.push_str(": ");
            if e.versions.is_empty() {
                write_versions(out, &kernel, as_list);
                continue;
            }
            let g = mix(host.seed ^ e.group);
            let n = e.versions.len();
            let pick = if n == 1 {
                0
            } else if e.spread {
                // newest 45%, the older ones share the rest
                let r = g % 100;
                if r < 45 {
                    n - 1
                } else {
                    ((r - 45) as usize * (n - 1)) / 55
                }
            } else if g % 100 < lag {
                let back = 1 + ((g >> 32) as usize % (n - 1).min(3));
                n - 1 - back
            } else {
                n - 1
            };
            let v = &e.versions[pick];
            if as_list {
                out.push('[');
                out.push_str(v);
                out.push(']');
            } else {
                out.push_str(v);
            }
        }
        out.push('}');
    }
}

/// Several versions of one package: a JSON list, or (Salt's default) one comma-joined string.
fn write_versions(out: &mut String, versions: &[String], as_list: bool) {
    if as_list {
        out.push('[');
        for (i, v) in versions.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            out.push_str(&quoted(v));
        }
        out.push(']');
    } else {
        out.push_str(&quoted(&versions.join(",")));
    }
}

/// Whether a `pkg.list_pkgs` call asks for `versions_as_list` (the first positional
/// argument or the keyword, truthy as Salt's `is_true` reads it).
pub(crate) fn versions_as_list(args: &[Value]) -> bool {
    let truthy = |v: &Value| match v {
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|x| x > 0.0),
        Value::String(s) => {
            let s = s.trim();
            s.eq_ignore_ascii_case("true") || s.parse::<f64>().is_ok_and(|x| x > 0.0)
        }
        _ => false,
    };
    let kw = args.iter().find_map(|a| {
        a.as_object()
            .filter(|m| m.contains_key("__kwarg__"))
            .and_then(|m| m.get("versions_as_list"))
    });
    match kw {
        Some(v) => truthy(v),
        None => args
            .iter()
            .find(|a| !a.as_object().is_some_and(|m| m.contains_key("__kwarg__")))
            .is_some_and(truthy),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Map};

    fn list(cats: &Catalogues, host: &Host, as_list: bool) -> Map<String, Value> {
        let mut s = String::new();
        cats.write_list_pkgs(host, as_list, &mut s);
        match serde_json::from_str(&s) {
            Ok(Value::Object(m)) => m,
            other => panic!("not an object: {other:?}"),
        }
    }

    fn host(flavour: Flavour, i: u64) -> Host {
        let (role, kernelrelease) = match flavour {
            Flavour::Debian => ("web", "6.1.0-28-amd64"),
            Flavour::RedHat => ("db", "5.14.0-427.42.1.el9_4.x86_64"),
            Flavour::Suse => ("web", "6.4.0-150600.23.25-default"),
            Flavour::Arch => ("cache", "6.12.1-arch1-1"),
        };
        Host {
            flavour,
            seed: mix(i ^ 0x5EED),
            role,
            kernelrelease,
        }
    }

    /// `[epoch:]upstream[-revision]` -> the numeric fields of upstream (for "is it below
    /// 3.0.13").
    fn upstream(v: &str) -> Vec<u64> {
        let v = v.split_once(':').map_or(v, |x| x.1);
        let up = v.split('-').next().unwrap_or(v);
        up.split('.').map_while(|x| x.parse().ok()).collect()
    }

    #[test]
    fn about_the_configured_count_and_sorted() {
        for per in [1500usize, 300] {
            let cats = Catalogues::new(42, per);
            for f in FLAVOURS {
                for i in 0..20 {
                    let h = host(f, i);
                    let mut s = String::new();
                    cats.write_list_pkgs(&h, false, &mut s);
                    let m = list(&cats, &h, false);
                    // no duplicate names: the raw reply has as many `": "` as the map entries
                    assert_eq!(s.matches("\": ").count(), m.len(), "{f:?}");
                    let n = m.len() as f64;
                    assert!(
                        (per as f64 * 0.9..per as f64 * 1.1).contains(&n),
                        "{f:?} minion {i}: {n} packages (want ~{per})"
                    );
                    let names: Vec<&String> = m.keys().collect();
                    assert!(names.windows(2).all(|w| w[0] < w[1]), "sorted");
                    assert!(m.values().all(Value::is_string));
                }
            }
        }
    }

    #[test]
    fn list_form_is_the_default_form_split() {
        let cats = Catalogues::new(7, 1500);
        for f in FLAVOURS {
            for i in 0..10 {
                let h = host(f, i);
                let plain = list(&cats, &h, false);
                let as_list = list(&cats, &h, true);
                assert_eq!(plain.len(), as_list.len());
                for (k, v) in &plain {
                    let split: Vec<Value> =
                        v.as_str().unwrap().split(',').map(Value::from).collect();
                    assert_eq!(as_list[k], Value::Array(split), "{k}");
                }
                // Same seed, same list.
                assert_eq!(list(&cats, &h, true), as_list);
            }
        }
    }

    #[test]
    fn real_packages_and_their_spread() {
        let cats = Catalogues::new(42, 1500);
        let must: &[(Flavour, &[&str])] = &[
            (
                Flavour::Debian,
                &[
                    "openssl",
                    "libssl3",
                    "bash",
                    "openssh-server",
                    "curl",
                    "libc6",
                    "python3",
                    "systemd",
                    "nginx",
                ],
            ),
            (
                Flavour::RedHat,
                &[
                    "openssl",
                    "openssl-libs",
                    "bash",
                    "openssh-server",
                    "curl",
                    "glibc",
                    "kernel",
                    "python3",
                    "systemd",
                    "postgresql-server",
                ],
            ),
            (
                Flavour::Suse,
                &[
                    "openssl",
                    "bash",
                    "openssh",
                    "curl",
                    "glibc",
                    "kernel-default",
                    "systemd",
                ],
            ),
            (
                Flavour::Arch,
                &[
                    "openssl", "bash", "openssh", "curl", "glibc", "linux", "python", "systemd",
                ],
            ),
        ];
        for (f, names) in must {
            let (mut below, mut above, mut multi_kernel, mut foreign) = (0, 0, 0, 0);
            for i in 0..200 {
                let m = list(&cats, &host(*f, i), false);
                for n in *names {
                    assert!(m.contains_key(*n), "{f:?} minion {i} lacks {n}");
                }
                let ssl = m["openssl"].as_str().unwrap();
                if upstream(ssl) < vec![3, 0, 13] {
                    below += 1;
                } else {
                    above += 1;
                }
                if *f == Flavour::Debian {
                    assert_eq!(m["libssl3"], m["openssl"], "one source, one version");
                }
                let kernel = match f {
                    Flavour::RedHat => "kernel",
                    Flavour::Suse => "kernel-default",
                    Flavour::Arch => "linux",
                    Flavour::Debian => "linux-base",
                };
                if m[kernel].as_str().unwrap().contains(',') {
                    multi_kernel += 1;
                }
                if m.keys()
                    .any(|k| k.ends_with(":i386") || k.ends_with(".i686"))
                {
                    foreign += 1;
                }
            }
            assert!(
                below > 20 && above > 20,
                "{f:?} openssl spread: {below} below, {above} at or above 3.0.13"
            );
            match f {
                Flavour::RedHat | Flavour::Suse => {
                    assert!(multi_kernel > 50, "{f:?}: {multi_kernel}")
                }
                _ => assert_eq!(multi_kernel, 0, "{f:?}"),
            }
            match f {
                Flavour::RedHat | Flavour::Debian => {
                    assert!(
                        (5..60).contains(&foreign),
                        "{f:?}: {foreign} multiarch minions"
                    )
                }
                _ => assert_eq!(foreign, 0, "{f:?}"),
            }
        }
        let m = list(&cats, &host(Flavour::RedHat, 1), true);
        assert!(
            m["kernel"]
                .as_array()
                .unwrap()
                .contains(&json!("5.14.0-427.42.1.el9_4")),
            "the running kernel is installed"
        );
    }

    #[test]
    fn most_minions_run_the_newest_version() {
        let cats = Catalogues::new(42, 1500);
        let cat = &cats.by_flavour[Flavour::Debian.index()];
        let hosts: Vec<Host> = (0..200).map(|i| host(Flavour::Debian, i)).collect();
        let lists: Vec<Map<String, Value>> = hosts.iter().map(|h| list(&cats, h, false)).collect();
        let (mut newest, mut older) = (0usize, 0usize);
        let mut spread = std::collections::BTreeSet::new();
        for e in cat
            .entries
            .iter()
            .filter(|e| e.versions.len() > 1 && !e.spread)
        {
            let name: String = serde_json::from_str(&e.name).unwrap();
            let top: String = serde_json::from_str(&e.versions[e.versions.len() - 1]).unwrap();
            let seen: std::collections::BTreeSet<&str> = lists
                .iter()
                .filter_map(|m| m.get(&name).and_then(Value::as_str))
                .inspect(|v| if *v == top { newest += 1 } else { older += 1 })
                .collect();
            spread.insert(seen.len());
        }
        let share = newest as f64 / (newest + older) as f64;
        assert!((0.8..0.97).contains(&share), "newest share {share}");
        assert!(spread.contains(&3) || spread.contains(&4), "{spread:?}");
    }

    #[test]
    fn versions_as_list_argument() {
        assert!(!versions_as_list(&[]));
        assert!(versions_as_list(&[
            json!({"versions_as_list": true, "__kwarg__": true})
        ]));
        assert!(versions_as_list(&[
            json!({"versions_as_list": "True", "__kwarg__": true})
        ]));
        assert!(!versions_as_list(&[
            json!({"versions_as_list": false, "__kwarg__": true})
        ]));
        assert!(!versions_as_list(&[
            json!({"versions_as_list": "no", "__kwarg__": true})
        ]));
        assert!(versions_as_list(&[json!(true)]));
        assert!(versions_as_list(&[json!("1")]));
        assert!(!versions_as_list(&[json!(0)]));
        assert!(!versions_as_list(&[
            json!({"removed": true, "__kwarg__": true})
        ]));
    }

    #[test]
    fn kernels() {
        let v = kernel_versions(Flavour::RedHat, "5.14.0-427.42.1.el9_4.x86_64", 2);
        assert_eq!(
            v,
            [
                "5.14.0-427.36.1.el9_4",
                "5.14.0-427.39.1.el9_4",
                "5.14.0-427.42.1.el9_4"
            ]
        );
        assert_eq!(
            kernel_versions(Flavour::Arch, "6.12.1-arch1-1", 2),
            ["6.12.1.arch1-1"]
        );
        assert_eq!(
            kernel_versions(Flavour::Suse, "6.4.0-150600.23.25-default", 1),
            ["6.4.0-150600.20.25.1", "6.4.0-150600.23.25.1"]
        );
        assert_eq!(kernel_versions(Flavour::RedHat, "weird", 2), ["weird"]);
    }
}
