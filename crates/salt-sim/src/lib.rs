//! A salt-api (`rest_cherrypy`) simulator for scale tests.
//!
//! It answers the calls Halite makes with the reply shapes recorded from a real Salt 3008.4
//! master (`tests/fixtures/salt/3008.4/`), for thousands of synthetic minions. Everything a
//! reply needs is built once at start-up (grains are kept pre-serialized), so a full
//! `cache.grains` over 10,000 minions is a memory copy, not a computation.
//!
//! Supported: `POST /login`, `POST /logout`, `GET /`, `GET /events` (job and key events of
//! the calls made here), and `POST /` with the `local`
//! (`test.ping`, `test.version`, `test.echo`, `grains.get`, `grains.item`, `grains.items`,
//! `pkg.list_pkgs`, `state.*`),
//! `local_async`, `runner` (`manage.present|up|down|status`, `cache.grains`, `jobs.list_jobs`,
//! `jobs.list_job`, `jobs.active`) and `wheel` (`key.list_all`, `key.finger`, `key.accept`,
//! `key.reject`, `key.delete`) clients. Targets: `glob`, `list` and `grain`.
//!
//! Minion keys live behind a lock and change with the wheel key calls; every call is recorded
//! in a job log (on top of a synthetic 24 h history) that `jobs.list_jobs` reads, like a real
//! master's job cache.
//!
//! State runs (`state.apply`, `state.highstate`, `state.sls`, `state.top`; seeded, or sent
//! with `local`/`local_async`) answer with realistic highstate returns, ~40 states a minion,
//! generated from the minion's seed and the jid whenever they are asked for (see `states`):
//! mostly clean, some with changes, a few percent failing, ~1% render errors, and a few
//! percent that never return (listed in `Minions`, absent from `Result`).
//!
//! `pkg.list_pkgs` (default form or `versions_as_list`) answers ~1,500 packages a minion
//! (`SimConfig::packages`), named and versioned as its OS family does (apt, rpm, pacman), also
//! generated on demand from the minion's seed (see `pkgs`).
// The grains `json!` literal nests deeper than the default macro recursion limit.
#![recursion_limit = "256"]

mod pkgs;
mod states;

use axum::body::Bytes;
use axum::extract::{OriginalUri, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeDelta, Utc};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt::Write as _;
use std::future::IntoFuture;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// What to simulate.
#[derive(Clone)]
pub struct SimConfig {
    /// Minion keys in total (accepted + pending + rejected).
    pub minions: usize,
    /// How many of them sit in `minions_pre`.
    pub pending: usize,
    /// How many of them sit in `minions_rejected`.
    pub rejected: usize,
    /// Share of minions that are not connected (absent from `manage.present`, no `test.ping`
    /// answer), 0.0 to 1.0.
    pub offline_fraction: f64,
    /// Everything synthetic (ids, grains, key states, job history) derives from this.
    pub seed: u64,
    /// The eauth user that `/login` accepts (any `eauth` backend name is accepted).
    pub username: String,
    /// That user's password.
    pub password: String,
    /// Target size of one minion's serialized grains; the average lands within a few bytes of
    /// it as long as it is above the ~4 KB of realistic grains (padding goes into `cpu_flags`).
    pub grains_bytes: usize,
    /// About how many packages `pkg.list_pkgs` lists per minion (never fewer than the ~60-120
    /// real base packages every minion of a family has).
    pub packages: usize,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            minions: 10_000,
            pending: 20,
            rejected: 5,
            offline_fraction: 0.05,
            seed: 42,
            username: "halite".into(),
            password: "sim-pw".into(),
            grains_bytes: 5000,
            packages: 1500,
        }
    }
}

impl std::fmt::Debug for SimConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimConfig")
            .field("minions", &self.minions)
            .field("pending", &self.pending)
            .field("rejected", &self.rejected)
            .field("offline_fraction", &self.offline_fraction)
            .field("seed", &self.seed)
            .field("username", &self.username)
            .field("password", &"[REDACTED]")
            .field("grains_bytes", &self.grains_bytes)
            .field("packages", &self.packages)
            .finish()
    }
}

/// The router of a fresh simulator (all minion data is built before this returns).
pub fn router(cfg: SimConfig) -> Router {
    let sim = Arc::new(Sim::new(cfg));
    Router::new()
        .route("/", get(welcome).post(run_lowstate))
        .route("/login", post(login))
        .route("/logout", post(logout))
        .route("/events", get(events))
        .fallback(not_found)
        .with_state(sim)
}

/// Bind `addr` and serve until Ctrl-C or SIGTERM (open `/events` streams are cut, not
/// drained).
pub async fn serve(cfg: SimConfig, addr: SocketAddr) -> std::io::Result<()> {
    let app = router(cfg);
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tokio::select! {
        r = axum::serve(listener, app).into_future() => r,
        _ = shutdown_signal() => Ok(()),
    }
}

/// Resolves on Ctrl-C or (on Unix) SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

// ---- deterministic randomness ------------------------------------------------------------

/// SplitMix64: tiny, fast and stable across crate versions (so a seed always gives the same
/// fleet).
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed ^ 0x5DEE_CE66_D1CE_4E5B)
    }

    fn for_minion(seed: u64, index: usize) -> Self {
        let mut r = Rng::new(seed.wrapping_add((index as u64).wrapping_mul(0xA24B_AED4_963E_E407)));
        r.next_u64();
        r
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    fn weighted<'a, T>(&mut self, items: &'a [(u32, T)]) -> &'a T {
        let total: u32 = items.iter().map(|(w, _)| *w).sum();
        let mut x = self.below(total as usize) as u32;
        for (w, item) in items {
            if x < *w {
                return item;
            }
            x -= w;
        }
        &items[items.len() - 1].1
    }

    fn hex(&mut self, bytes: usize) -> String {
        let mut s = String::with_capacity(bytes * 2);
        for _ in 0..bytes {
            let _ = write!(s, "{:02x}", self.next_u64() as u8);
        }
        s
    }
}

// ---- the fleet ---------------------------------------------------------------------------

const MASTER_ID: &str = "sim-master";
const ROLES: &[(u32, &str)] = &[
    (30, "web"),
    (15, "app"),
    (12, "db"),
    (10, "cache"),
    (8, "k8s"),
    (6, "lb"),
    (6, "mq"),
    (5, "mon"),
    (4, "ci"),
    (4, "storage"),
];
const DATACENTERS: &[&str] = &["fra1", "ams3", "nyc2", "sfo3", "sgp1"];

struct OsProfile {
    os: &'static str,
    os_family: &'static str,
    osfullname: &'static str,
    osrelease: &'static str,
    oscodename: &'static str,
    lsb_id: &'static str,
    kernelrelease: &'static str,
    kernelversion: &'static str,
    systemd: &'static str,
}

const OS_PROFILES: &[(u32, OsProfile)] = &[
    (
        20,
        OsProfile {
            os: "Ubuntu",
            os_family: "Debian",
            osfullname: "Ubuntu",
            osrelease: "22.04",
            oscodename: "jammy",
            lsb_id: "Ubuntu",
            kernelrelease: "5.15.0-125-generic",
            kernelversion: "#135-Ubuntu SMP Fri Sep 27 13:53:58 UTC 2024",
            systemd: "249",
        },
    ),
    (
        15,
        OsProfile {
            os: "Ubuntu",
            os_family: "Debian",
            osfullname: "Ubuntu",
            osrelease: "24.04",
            oscodename: "noble",
            lsb_id: "Ubuntu",
            kernelrelease: "6.8.0-49-generic",
            kernelversion: "#49-Ubuntu SMP PREEMPT_DYNAMIC Mon Nov  4 02:06:24 UTC 2024",
            systemd: "255",
        },
    ),
    (
        18,
        OsProfile {
            os: "Debian",
            os_family: "Debian",
            osfullname: "Debian GNU/Linux",
            osrelease: "12",
            oscodename: "bookworm",
            lsb_id: "Debian",
            kernelrelease: "6.1.0-28-amd64",
            kernelversion: "#1 SMP PREEMPT_DYNAMIC Debian 6.1.119-1 (2024-11-22)",
            systemd: "252",
        },
    ),
    (
        5,
        OsProfile {
            os: "Debian",
            os_family: "Debian",
            osfullname: "Debian GNU/Linux",
            osrelease: "11",
            oscodename: "bullseye",
            lsb_id: "Debian",
            kernelrelease: "5.10.0-33-amd64",
            kernelversion: "#1 SMP Debian 5.10.226-1 (2024-10-03)",
            systemd: "247",
        },
    ),
    (
        12,
        OsProfile {
            os: "RedHat",
            os_family: "RedHat",
            osfullname: "Red Hat Enterprise Linux",
            osrelease: "9.4",
            oscodename: "Plow",
            lsb_id: "Red Hat Enterprise Linux",
            kernelrelease: "5.14.0-427.42.1.el9_4.x86_64",
            kernelversion: "#1 SMP PREEMPT_DYNAMIC Fri Oct 18 14:35:40 EDT 2024",
            systemd: "252",
        },
    ),
    (
        12,
        OsProfile {
            os: "Rocky",
            os_family: "RedHat",
            osfullname: "Rocky Linux",
            osrelease: "9.5",
            oscodename: "Blue Onyx",
            lsb_id: "Rocky Linux",
            kernelrelease: "5.14.0-503.14.1.el9_5.x86_64",
            kernelversion: "#1 SMP PREEMPT_DYNAMIC Fri Nov 15 12:04:32 UTC 2024",
            systemd: "252",
        },
    ),
    (
        6,
        OsProfile {
            os: "AlmaLinux",
            os_family: "RedHat",
            osfullname: "AlmaLinux",
            osrelease: "8.10",
            oscodename: "Cerulean Leopard",
            lsb_id: "AlmaLinux",
            kernelrelease: "4.18.0-553.27.1.el8_10.x86_64",
            kernelversion: "#1 SMP Tue Nov 5 04:50:16 EST 2024",
            systemd: "239",
        },
    ),
    (
        5,
        OsProfile {
            os: "Amazon",
            os_family: "RedHat",
            osfullname: "Amazon Linux",
            osrelease: "2023",
            oscodename: "",
            lsb_id: "Amazon Linux",
            kernelrelease: "6.1.115-126.197.amzn2023.x86_64",
            kernelversion: "#1 SMP PREEMPT_DYNAMIC Tue Nov  5 17:36:57 UTC 2024",
            systemd: "252",
        },
    ),
    (
        4,
        OsProfile {
            os: "SUSE",
            os_family: "Suse",
            osfullname: "openSUSE Leap",
            osrelease: "15.6",
            oscodename: "openSUSE Leap 15.6",
            lsb_id: "openSUSE",
            kernelrelease: "6.4.0-150600.23.25-default",
            kernelversion: "#1 SMP PREEMPT_DYNAMIC Tue Oct 15 08:31:17 UTC 2024 (a43a2c5)",
            systemd: "254",
        },
    ),
    (
        3,
        OsProfile {
            os: "Arch",
            os_family: "Arch",
            osfullname: "Arch Linux",
            osrelease: "rolling",
            oscodename: "rolling",
            lsb_id: "Arch",
            kernelrelease: "6.12.1-arch1-1",
            kernelversion: "#1 SMP PREEMPT_DYNAMIC Fri, 22 Nov 2024 16:04:27 +0000",
            systemd: "256",
        },
    ),
];

/// `saltversion`, `saltversioninfo` and the onedir Python of a minion release.
struct SaltRelease {
    version: &'static str,
    info: [i64; 2],
    python: &'static str,
}

const SALT_VERSIONS: &[(u32, SaltRelease)] = &[
    (
        70,
        SaltRelease {
            version: "3008.4",
            info: [3008, 4],
            python: "3.11.11",
        },
    ),
    (
        20,
        SaltRelease {
            version: "3007.16",
            info: [3007, 16],
            python: "3.10.16",
        },
    ),
    (
        10,
        SaltRelease {
            version: "3006.29",
            info: [3006, 29],
            python: "3.10.16",
        },
    ),
];

const CPU_MODELS_X86: &[(&str, &[i64])] = &[
    ("AMD EPYC 7763 64-Core Processor", &[2, 4, 8, 16, 32]),
    ("AMD EPYC 9654 96-Core Processor", &[4, 8, 16, 32, 64]),
    (
        "Intel(R) Xeon(R) Gold 6248R CPU @ 3.00GHz",
        &[2, 4, 8, 16, 48],
    ),
    (
        "Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz",
        &[2, 4, 8, 16, 32],
    ),
    ("Intel(R) Xeon(R) CPU E5-2680 v4 @ 2.40GHz", &[2, 4, 8, 28]),
];

#[rustfmt::skip]
const X86_FLAGS: &[&str] = &[
    "fpu", "vme", "de", "pse", "tsc", "msr", "pae", "mce", "cx8", "apic", "sep", "mtrr", "pge",
    "mca", "cmov", "pat", "pse36", "clflush", "mmx", "fxsr", "sse", "sse2", "ht", "syscall", "nx",
    "mmxext", "fxsr_opt", "pdpe1gb", "rdtscp", "lm", "constant_tsc", "rep_good", "nopl",
    "xtopology", "nonstop_tsc", "cpuid", "extd_apicid", "tsc_known_freq", "pni", "pclmulqdq",
    "ssse3", "fma", "cx16", "pcid", "sse4_1", "sse4_2", "x2apic", "movbe", "popcnt",
    "tsc_deadline_timer", "aes", "xsave", "avx", "f16c", "rdrand", "hypervisor", "lahf_lm",
    "cmp_legacy", "cr8_legacy", "abm", "sse4a", "misalignsse", "3dnowprefetch", "osvw", "topoext",
    "vmmcall", "fsgsbase", "tsc_adjust", "bmi1", "avx2", "smep", "bmi2", "erms", "invpcid",
    "avx512f", "avx512dq", "rdseed", "adx", "smap", "avx512ifma", "clflushopt", "clwb", "avx512cd",
    "sha_ni", "avx512bw", "avx512vl", "xsaveopt", "xsavec", "xgetbv1", "xsaves", "avx512_bf16",
    "clzero", "xsaveerptr", "arat", "avx512vbmi", "umip", "avx512_vbmi2", "gfni", "vaes",
    "vpclmulqdq", "avx512_vnni", "avx512_bitalg", "avx512_vpopcntdq", "rdpid", "fsrm", "vmx",
    "flexpriority", "tpr_shadow", "vnmi", "ept", "vpid", "ept_ad", "arch_capabilities", "md_clear",
    "flush_l1d", "ibrs", "ibpb", "stibp", "ssbd", "ibrs_enhanced", "tsx_async_abort",
    "invpcid_single", "pti", "intel_ppin", "mba", "cqm_llc", "cqm_occup_llc", "cqm_mbm_total",
    "cqm_mbm_local", "split_lock_detect", "user_shstk", "avx_vnni", "wbnoinvd", "amd_ppin",
    "virt_ssbd", "perfctr_core", "perfctr_nb", "bpext", "perfctr_llc", "mwaitx", "cpb", "cat_l3",
    "cdp_l3", "hw_pstate", "sme", "sev", "sev_es", "irperf", "rdpru", "overflow_recov", "succor",
    "smca", "fsrs", "fsrc", "pku", "ospke", "la57", "movdiri", "movdir64b", "serialize",
    "tsxldtrk", "amx_bf16", "amx_tile", "amx_int8", "avx512_fp16", "core_capabilities", "sgx",
    "sgx_lc", "bus_lock_detect", "cldemote", "dtes64", "monitor", "ds_cpl", "smx", "est", "tm2",
    "xtpr", "pdcm", "dca", "acpi", "tm", "pbe", "ss", "arch_perfmon", "pebs", "bts", "aperfmperf",
    "dtherm", "ida", "pln", "pts", "hwp", "hwp_act_window", "hwp_epp", "hwp_pkg_req", "epb",
    "cat_l2", "cdp_l2", "intel_pt", "waitpkg", "rdt_a", "tme", "pconfig", "arch_lbr", "ibt", "hfi",
    "art", "xsaveopt",
];

const SYSTEMD_FEATURES: &str = "+PAM +AUDIT +SELINUX +APPARMOR +IMA +SMACK +SECCOMP +GCRYPT \
-GNUTLS +OPENSSL +ACL +BLKID +CURL +ELFUTILS +FIDO2 +IDN2 -IDN +IPTC +KMOD +LIBCRYPTSETUP \
+LIBFDISK +PCRE2 -PWQUALITY +P11KIT +QRENCODE +TPM2 +BZIP2 +LZ4 +XZ +ZLIB +ZSTD -BPF_FRAMEWORK \
-XKBCOMMON +UTMP +SYSVINIT default-hierarchy=unified";

/// Key states (a deleted key is gone from every list).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyState {
    Accepted,
    Pending,
    Rejected,
    Denied,
    Deleted,
}

impl KeyState {
    fn group(self) -> Option<&'static str> {
        match self {
            KeyState::Accepted => Some("minions"),
            KeyState::Pending => Some("minions_pre"),
            KeyState::Rejected => Some("minions_rejected"),
            KeyState::Denied => Some("minions_denied"),
            KeyState::Deleted => None,
        }
    }
}

const KEY_GROUPS: [(KeyState, &str); 4] = [
    (KeyState::Accepted, "minions"),
    (KeyState::Pending, "minions_pre"),
    (KeyState::Rejected, "minions_rejected"),
    (KeyState::Denied, "minions_denied"),
];

struct Minion {
    id: String,
    ip: String,
    online: bool,
    saltversion: &'static str,
    fingerprint: String,
    /// `"<id>":{grains}`, ready to splice into a reply.
    entry: Box<str>,
    /// Where the grains object starts inside `entry`.
    grains_at: usize,
    /// Its state tree: an index into `Sim::catalogues` (role and OS family).
    catalogue: usize,
    debian: bool,
    /// Seeds its state returns (from the fleet seed and its index).
    state_seed: u64,
    /// What its `pkg.list_pkgs` depends on.
    packages: pkgs::Host,
}

impl Minion {
    fn grains_json(&self) -> &str {
        &self.entry[self.grains_at..]
    }

    fn grains(&self) -> Map<String, Value> {
        serde_json::from_str(self.grains_json()).unwrap_or_default()
    }
}

/// One job of the master's job cache.
struct Job {
    jid: String,
    fun: String,
    args: Value,
    tgt: Value,
    tgt_type: String,
    user: String,
    /// Fixed for `list` targets and runner/wheel jobs; recomputed from the target otherwise.
    minions: Option<Vec<String>>,
}

struct JobLog {
    jobs: VecDeque<Job>,
    last_jid: String,
}

/// Jobs older than this leave the cache (Salt's default `keep_jobs_seconds`).
const KEEP_JOBS_HOURS: i64 = 24;
const MAX_JOBS: usize = 20_000;
const TOKEN_LIFETIME_SECS: f64 = 12.0 * 3600.0;
const PERMS: &[&str] = &[".*", "@jobs", "@runner", "@wheel"];
/// Events a slow `/events` reader may fall behind before it loses some.
const EVENT_BACKLOG: usize = 32_768;

struct Token {
    user: String,
    expire: f64,
}

struct Sim {
    username: String,
    password: String,
    minions: Vec<Minion>,
    by_id: HashMap<String, usize>,
    keys: RwLock<Vec<KeyState>>,
    tokens: Mutex<HashMap<String, Token>>,
    /// The `/events` bus: ready-to-send SSE frames.
    bus: tokio::sync::broadcast::Sender<Arc<str>>,
    jobs: Mutex<JobLog>,
    /// One state tree per (role, Debian-like or not): `role index * 2 + !debian`.
    catalogues: Vec<states::Catalogue>,
    /// The package names and versions of each OS family.
    packages: pkgs::Catalogues,
}

/// The index in `Sim::catalogues` of a role's tree.
fn catalogue_index(role: &str, debian: bool) -> usize {
    ROLES.iter().position(|(_, r)| *r == role).unwrap_or(0) * 2 + usize::from(!debian)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Sim {
    fn new(cfg: SimConfig) -> Self {
        let n = cfg.minions;
        let mut minions: Vec<Minion> = (0..n).map(|i| build_minion(&cfg, i)).collect();
        minions.sort_by(|a, b| a.id.cmp(&b.id));
        let by_id = minions
            .iter()
            .enumerate()
            .map(|(i, m)| (m.id.clone(), i))
            .collect();

        // Pending and rejected keys: a seeded shuffle picks them.
        let mut order: Vec<usize> = (0..n).collect();
        let mut rng = Rng::new(cfg.seed ^ 0x4B45_5953);
        for i in (1..order.len()).rev() {
            let j = rng.below(i + 1);
            order.swap(i, j);
        }
        let mut keys = vec![KeyState::Accepted; n];
        let pending = cfg.pending.min(n);
        let rejected = cfg.rejected.min(n - pending);
        for &i in &order[..pending] {
            keys[i] = KeyState::Pending;
        }
        for &i in &order[pending..pending + rejected] {
            keys[i] = KeyState::Rejected;
        }

        let sim = Sim {
            username: cfg.username.clone(),
            password: cfg.password.clone(),
            minions,
            by_id,
            keys: RwLock::new(keys),
            tokens: Mutex::new(HashMap::new()),
            bus: tokio::sync::broadcast::channel(EVENT_BACKLOG).0,
            jobs: Mutex::new(JobLog {
                jobs: VecDeque::new(),
                last_jid: String::new(),
            }),
            catalogues: ROLES
                .iter()
                .flat_map(|(_, role)| {
                    [true, false].map(|debian| states::Catalogue::new(role, debian))
                })
                .collect(),
            packages: pkgs::Catalogues::new(cfg.seed, cfg.packages),
        };
        sim.seed_job_history(cfg.seed);
        sim
    }

    fn keys(&self) -> RwLockReadGuard<'_, Vec<KeyState>> {
        self.keys.read().unwrap_or_else(|e| e.into_inner())
    }

    fn keys_mut(&self) -> RwLockWriteGuard<'_, Vec<KeyState>> {
        self.keys.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The user of a valid token.
    fn token_user(&self, token: &str) -> Option<String> {
        let tokens = lock(&self.tokens);
        tokens
            .get(token)
            .filter(|t| t.expire > now_epoch())
            .map(|t| t.user.clone())
    }

    /// Send one event to every `/events` reader (formatted like salt-api's SSE frames).
    fn publish(&self, tag: &str, mut data: Value) {
        if self.bus.receiver_count() == 0 {
            return;
        }
        if let Some(m) = data.as_object_mut() {
            m.insert(
                "_stamp".into(),
                Utc::now()
                    .format("%Y-%m-%dT%H:%M:%S%.6f+00:00")
                    .to_string()
                    .into(),
            );
        }
        let frame = format!(
            "tag: {tag}\ndata: {}\n\n",
            to_json(&json!({"data": data, "tag": tag}))
        );
        let _ = self.bus.send(frame.into());
    }

    // ---- jobs ----------------------------------------------------------------------------

    /// A fresh, strictly increasing jid (`%Y%m%d%H%M%S%f`, UTC).
    fn new_jid(log: &mut JobLog) -> String {
        let mut t = Utc::now();
        loop {
            let jid = jid_at(t);
            if jid > log.last_jid {
                log.last_jid = jid.clone();
                return jid;
            }
            t += TimeDelta::microseconds(1);
        }
    }

    fn record(&self, jid: String, job: Job) {
        let mut log = lock(&self.jobs);
        let cutoff = jid_at(Utc::now() - TimeDelta::hours(KEEP_JOBS_HOURS));
        while log
            .jobs
            .front()
            .is_some_and(|j| j.jid < cutoff || log.jobs.len() >= MAX_JOBS)
        {
            log.jobs.pop_front();
        }
        log.jobs.push_back(Job { jid, ..job });
    }

    fn next_jid(&self) -> String {
        Sim::new_jid(&mut lock(&self.jobs))
    }

    fn record_master_job(&self, jid: String, fun: String, user: &str) {
        self.record(
            jid,
            Job {
                jid: String::new(),
                fun,
                args: json!([]),
                tgt: Value::from(format!("{MASTER_ID}_master")),
                tgt_type: "list".into(),
                user: user.to_string(),
                minions: Some(vec![format!("{MASTER_ID}_master")]),
            },
        );
    }

    /// About 200 jobs over the last 24 h: minion jobs, `saltutil.find_job` noise and
    /// Halite-like runner/wheel polling.
    fn seed_job_history(&self, seed: u64) {
        let mut rng = Rng::new(seed ^ 0x4A4F_4253);
        let now = Utc::now();
        let ids: Vec<&str> = self.minions.iter().map(|m| m.id.as_str()).collect();
        let mut stamps: Vec<i64> = (0..200)
            .map(|_| 60_000_000 + rng.below(23 * 3600 * 1_000_000) as i64)
            .collect();
        stamps.sort_unstable_by(|a, b| b.cmp(a));
        stamps.dedup();
        let mut log = lock(&self.jobs);
        for ago in stamps {
            let jid = jid_at(now - TimeDelta::microseconds(ago));
            let pick_ids = |rng: &mut Rng, k: usize| -> Value {
                Value::from(
                    (0..k)
                        .filter_map(|_| ids.get(rng.below(ids.len())).map(|s| s.to_string()))
                        .collect::<Vec<_>>(),
                )
            };
            let role = *rng.weighted(ROLES);
            let user = *rng.pick(&["halite", "halite", "root", "sudo_alice", "bob"]);
            let kind = rng.below(100);
            let (fun, args, tgt, tgt_type, user) = match kind {
                0..=17 => ("test.ping", json!([]), json!("*"), "glob", user),
                18..=27 => {
                    let args = rng
                        .pick(&[
                            json!([]),
                            json!(["common"]),
                            json!([format!("roles.{role}")]),
                            json!(["common", {"__kwarg__": true, "test": true}]),
                        ])
                        .clone();
                    (
                        "state.apply",
                        args,
                        json!(format!("sim-{role}-*")),
                        "glob",
                        user,
                    )
                }
                28..=31 => (
                    "state.highstate",
                    json!([]),
                    json!(format!("roles:{role}")),
                    "grain",
                    user,
                ),
                32..=39 => {
                    let cmd = *rng.pick(&[
                        "uptime",
                        "df -h /",
                        "systemctl is-active nginx",
                        "cat /etc/os-release",
                    ]);
                    (
                        "cmd.run",
                        json!([cmd]),
                        json!(format!("sim-{role}-*")),
                        "glob",
                        user,
                    )
                }
                40..=43 => (
                    "pkg.upgrade",
                    json!([]),
                    json!("os_family:Debian"),
                    "grain",
                    user,
                ),
                44..=46 => {
                    let t = pick_ids(&mut rng, 1);
                    let one = t[0].clone();
                    ("pkg.list_pkgs", json!([]), one, "glob", "halite")
                }
                47..=49 => (
                    "grains.items",
                    json!([]),
                    pick_ids(&mut rng, 3),
                    "list",
                    user,
                ),
                50..=52 => (
                    "service.restart",
                    json!(["nginx"]),
                    json!("sim-web-*"),
                    "glob",
                    user,
                ),
                53..=54 => ("saltutil.sync_all", json!([]), json!("*"), "glob", user),
                55..=69 => {
                    let k = 1 + rng.below(4);
                    let old = jid_at(now - TimeDelta::microseconds(ago + 5_000_000));
                    (
                        "saltutil.find_job",
                        json!([old]),
                        pick_ids(&mut rng, k),
                        "list",
                        "root",
                    )
                }
                70..=79 => (
                    "runner.manage.present",
                    json!([]),
                    Value::Null,
                    "list",
                    "halite",
                ),
                80..=85 => (
                    "wheel.key.list_all",
                    json!([]),
                    Value::Null,
                    "list",
                    "halite",
                ),
                86..=91 => (
                    "runner.cache.grains",
                    json!([]),
                    Value::Null,
                    "list",
                    "halite",
                ),
                92..=95 => (
                    "runner.jobs.list_jobs",
                    json!([]),
                    Value::Null,
                    "list",
                    "halite",
                ),
                _ => (
                    "runner.jobs.active",
                    json!([]),
                    Value::Null,
                    "list",
                    "halite",
                ),
            };
            let (tgt, minions) = if tgt.is_null() {
                let m = format!("{MASTER_ID}_master");
                (Value::from(m.clone()), Some(vec![m]))
            } else if let Value::Array(a) = &tgt {
                let list = a
                    .iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect();
                (tgt.clone(), Some(list))
            } else {
                (tgt, None)
            };
            log.last_jid = jid.clone();
            log.jobs.push_back(Job {
                jid,
                fun: fun.to_string(),
                args,
                tgt,
                tgt_type: tgt_type.to_string(),
                user: user.to_string(),
                minions,
            });
        }
        // The nightly-style fleet-wide highstate (cron on the master), every 6 h; its own
        // randomness, so the jobs above stay as they were.
        let mut rng = Rng::new(seed ^ 0x4849_4748);
        for run in 0..4i64 {
            let ago = (run * 6 * 3600 + 1800 + rng.below(3 * 3600) as i64) * 1_000_000
                + rng.below(1_000_000) as i64;
            log.jobs.push_back(Job {
                jid: jid_at(now - TimeDelta::microseconds(ago)),
                fun: "state.apply".into(),
                args: json!([]),
                tgt: json!("*"),
                tgt_type: "glob".into(),
                user: "root".into(),
                minions: None,
            });
        }
        log.jobs.make_contiguous().sort_by(|a, b| a.jid.cmp(&b.jid));
        log.last_jid = log.jobs.back().map(|j| j.jid.clone()).unwrap_or_default();
    }

    // ---- targeting -----------------------------------------------------------------------

    /// Accepted minions matched by a target (sorted by id), plus names a `list` target gave
    /// that are not accepted keys (a real master reports those as "did not return").
    fn target(
        &self,
        keys: &[KeyState],
        tgt: &Value,
        tgt_type: &str,
    ) -> Result<(Vec<usize>, Vec<String>), String> {
        let accepted = |i: &usize| keys[*i] == KeyState::Accepted;
        match tgt_type {
            "glob" => {
                let pat = tgt
                    .as_str()
                    .ok_or_else(|| "a glob target must be a string".to_string())?;
                if !has_glob_magic(pat) {
                    return Ok((
                        self.by_id
                            .get(pat)
                            .copied()
                            .filter(accepted)
                            .into_iter()
                            .collect(),
                        vec![],
                    ));
                }
                Ok((
                    (0..self.minions.len())
                        .filter(|i| accepted(i) && glob_match(pat, &self.minions[*i].id))
                        .collect(),
                    vec![],
                ))
            }
            "list" => {
                let names: Vec<String> = match tgt {
                    Value::String(s) => s.split(',').map(|x| x.trim().to_string()).collect(),
                    Value::Array(a) => a
                        .iter()
                        .map(|v| {
                            v.as_str()
                                .map(String::from)
                                .unwrap_or_else(|| v.to_string())
                        })
                        .collect(),
                    _ => {
                        return Err(
                            "a list target must be a list or a comma-separated string".into()
                        )
                    }
                };
                let mut found = vec![];
                let mut missing = vec![];
                let mut seen = HashSet::new();
                for name in names.into_iter().filter(|n| !n.is_empty()) {
                    if !seen.insert(name.clone()) {
                        continue;
                    }
                    match self.by_id.get(&name).copied().filter(accepted) {
                        Some(i) => found.push(i),
                        None => missing.push(name),
                    }
                }
                found.sort_unstable();
                Ok((found, missing))
            }
            "grain" => {
                let expr = tgt
                    .as_str()
                    .ok_or_else(|| "a grain target must be a string".to_string())?;
                let (path, pat) = expr
                    .rsplit_once(':')
                    .ok_or_else(|| format!("invalid grain target '{expr}' (want key:value)"))?;
                Ok((
                    (0..self.minions.len())
                        .filter(|i| accepted(i))
                        .filter(|i| {
                            let g = Value::Object(self.minions[*i].grains());
                            grain_matches(grain_path(&g, path), pat)
                        })
                        .collect(),
                    vec![],
                ))
            }
            other => Err(format!(
                "salt-sim does not simulate tgt_type '{other}' (only glob, list and grain)"
            )),
        }
    }

    fn job_minions(&self, job: &Job) -> Vec<String> {
        if let Some(m) = &job.minions {
            return m.clone();
        }
        let keys = self.keys();
        self.target(&keys, &job.tgt, &job.tgt_type)
            .map(|(found, _)| {
                found
                    .into_iter()
                    .map(|i| self.minions[i].id.clone())
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn now_epoch() -> f64 {
    Utc::now().timestamp_micros() as f64 / 1e6
}

fn jid_at(t: DateTime<Utc>) -> String {
    t.format("%Y%m%d%H%M%S%6f").to_string()
}

/// Salt's `jid_to_time`: `20261127062111716004` -> `2026, Nov 27 06:21:11.716004`.
fn jid_to_time(jid: &str) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    if jid.len() < 20 || !jid.is_char_boundary(20) || !jid[..20].bytes().all(|b| b.is_ascii_digit())
    {
        return String::new();
    }
    let month = jid[4..6].parse::<usize>().unwrap_or(0);
    let Some(mon) = month.checked_sub(1).and_then(|m| MONTHS.get(m)) else {
        return String::new();
    };
    format!(
        "{}, {} {} {}:{}:{}.{}",
        &jid[..4],
        mon,
        &jid[6..8],
        &jid[8..10],
        &jid[10..12],
        &jid[12..14],
        &jid[14..20]
    )
}

/// A start/end time filter of `jobs.list_jobs` as a jid prefix to compare with.
fn parse_time_filter(s: &str) -> Option<String> {
    let s = s.trim();
    const FORMATS: &[&str] = &[
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%Y, %b %d %H:%M:%S%.f",
        "%Y, %b %d %H:%M",
    ];
    for f in FORMATS {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Some(t.format("%Y%m%d%H%M%S%6f").to_string());
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .map(|d| format!("{}000000000000", d.format("%Y%m%d")))
}

fn has_glob_magic(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// `fnmatch`: `*`, `?`, `[abc]`, `[a-z]`, `[!abc]`.
fn glob_match(pat: &str, s: &str) -> bool {
    let p: Vec<char> = pat.chars().collect();
    let t: Vec<char> = s.chars().collect();
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() {
            match p[pi] {
                '*' => {
                    star = Some((pi, ti));
                    pi += 1;
                    continue;
                }
                '?' => {
                    pi += 1;
                    ti += 1;
                    continue;
                }
                '[' => {
                    if let Some((matched, next)) = class_match(&p, pi, t[ti]) {
                        if matched {
                            pi = next;
                            ti += 1;
                            continue;
                        }
                    } else if t[ti] == '[' {
                        pi += 1;
                        ti += 1;
                        continue;
                    }
                }
                c if c == t[ti] => {
                    pi += 1;
                    ti += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some((sp, st)) => {
                pi = sp + 1;
                ti = st + 1;
                star = Some((sp, st + 1));
            }
            None => return false,
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// `[...]` at `p[start]`: whether `c` is in it, and the index after `]` (`None`: no closing
/// bracket, so `[` is literal).
fn class_match(p: &[char], start: usize, c: char) -> Option<(bool, usize)> {
    let mut i = start + 1;
    let negate = matches!(p.get(i), Some('!'));
    if negate {
        i += 1;
    }
    let first = i;
    let mut found = false;
    while i < p.len() {
        if p[i] == ']' && i > first {
            return Some((found != negate, i + 1));
        }
        if i + 2 < p.len() && p[i + 1] == '-' && p[i + 2] != ']' {
            if p[i] <= c && c <= p[i + 2] {
                found = true;
            }
            i += 3;
        } else {
            if p[i] == c {
                found = true;
            }
            i += 1;
        }
    }
    None
}

/// `a:b:c` into nested grains (Salt's `traverse_dict_and_list`).
fn grain_path<'a>(g: &'a Value, path: &str) -> Option<&'a Value> {
    let mut cur = g;
    for part in path.split(':') {
        cur = match cur {
            Value::Object(m) => m.get(part)?,
            Value::Array(a) => a.get(part.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(cur)
}

fn grain_matches(v: Option<&Value>, pat: &str) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::String(s)) => glob_match(pat, s),
        Some(Value::Array(a)) => a.iter().any(|x| grain_matches(Some(x), pat)),
        Some(Value::Object(_)) => false,
        Some(other) => glob_match(pat, &other.to_string()),
    }
}

fn fingerprint(seed: u64, id: &str) -> String {
    let mut h = Sha256::new();
    h.update(seed.to_le_bytes());
    h.update(id.as_bytes());
    let digest = h.finalize();
    let mut s = String::with_capacity(95);
    for (i, b) in digest.iter().enumerate() {
        if i > 0 {
            s.push(':');
        }
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Salt's `_osrelease_data`: osrelease_info, osmajorrelease, osfinger.
fn osrelease_data(p: &OsProfile, grains: &mut Map<String, Value>) {
    let info: Vec<Value> = p
        .osrelease
        .split('.')
        .map(|part| match part.parse::<i64>() {
            Ok(n) if part.bytes().all(|b| b.is_ascii_digit()) => Value::from(n),
            _ => Value::from(part),
        })
        .collect();
    if let Some(major) = info.first().and_then(Value::as_i64) {
        grains.insert("osmajorrelease".into(), major.into());
    }
    let name = if matches!(p.os, "Debian" | "AlmaLinux") {
        p.os
    } else {
        p.osfullname
    };
    let rel = if p.os == "Ubuntu" {
        p.osrelease.to_string()
    } else {
        match &info[0] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }
    };
    grains.insert("osfinger".into(), format!("{name}-{rel}").into());
    grains.insert("osrelease_info".into(), Value::Array(info));
}

fn build_minion(cfg: &SimConfig, index: usize) -> Minion {
    let mut rng = Rng::for_minion(cfg.seed, index);
    let role = *rng.weighted(ROLES);
    let id = format!("sim-{role}-{:05}", index + 1);
    let online = !rng.chance(cfg.offline_fraction);
    let dc = *rng.pick(DATACENTERS);
    let dc_n = DATACENTERS.iter().position(|d| *d == dc).unwrap_or(0);
    let h = index + 1;
    let ip = format!(
        "10.{}.{}.{}",
        16 + dc_n * 8 + (h / 250) / 256,
        (h / 250) % 256,
        h % 250 + 2
    );
    let gw = format!(
        "10.{}.{}.1",
        16 + dc_n * 8 + (h / 250) / 256,
        (h / 250) % 256
    );
    let ip6 = format!("fd00:{dc_n}:{:x}::{:x}", (h / 250) % 256, h % 250 + 2);
    let domain = format!("{dc}.example.net");
    let fqdn = format!("{id}.{domain}");
    let p = rng.weighted(OS_PROFILES);
    let release = rng.weighted(SALT_VERSIONS);
    let (saltversion, pyver) = (release.version, release.python);
    let (cpuarch, osarch) = match p.os_family {
        "Debian" => ("x86_64", "amd64"),
        _ => ("x86_64", "x86_64"),
    };
    let (cpu_model, num_cpus) = {
        let (m, cpus) = rng.pick(CPU_MODELS_X86);
        (m.to_string(), *rng.pick(cpus))
    };
    let mem_total = num_cpus * *rng.pick(&[2048i64, 4096, 8192]) - rng.below(400) as i64;
    let virt = *rng.weighted(&[
        (55, "kvm"),
        (20, "VMware"),
        (18, "physical"),
        (7, "container"),
    ]);
    let (manufacturer, product, disk) = match virt {
        "kvm" => ("QEMU", "Standard PC (Q35 + ICH9, 2009)", "vda"),
        "VMware" => ("VMware, Inc.", "VMware Virtual Platform", "sda"),
        "physical" => ("Dell Inc.", "PowerEdge R650", "nvme0n1"),
        _ => ("", "", "vda"),
    };
    let mac = format!(
        "52:54:00:{:02x}:{:02x}:{:02x}",
        (h >> 16) & 0xff,
        (h >> 8) & 0xff,
        h & 0xff
    );
    let pyver_parts: Vec<Value> = pyver
        .split('.')
        .map(|x| Value::from(x.parse::<i64>().unwrap_or(0)))
        .chain([Value::from("final"), Value::from(0)])
        .collect();
    let py_short = pyver.rsplit_once('.').map(|x| x.0).unwrap_or(pyver);
    let py_nodot = py_short.replace('.', "");
    let boot_uuid = format!(
        "{}-{}-{}-{}-{}",
        rng.hex(4),
        rng.hex(2),
        rng.hex(2),
        rng.hex(2),
        rng.hex(6)
    );
    let resolved = p.os == "Ubuntu";
    let dns = json!({
        "nameservers": if resolved { json!(["127.0.0.53"]) } else { json!(["10.0.0.2", "10.0.0.3"]) },
        "ip4_nameservers": if resolved { json!(["127.0.0.53"]) } else { json!(["10.0.0.2", "10.0.0.3"]) },
        "ip6_nameservers": [],
        "sortlist": [],
        "domain": "",
        "search": [domain],
        "options": if resolved { json!(["edns0", "trust-ad"]) } else { json!([]) }
    });
    let mut kernelparams = vec![
        json!(["BOOT_IMAGE", format!("/boot/vmlinuz-{}", p.kernelrelease)]),
        json!([
            "root",
            if p.os_family == "RedHat" {
                "/dev/mapper/vg0-root".to_string()
            } else {
                format!("UUID={boot_uuid}")
            }
        ]),
        json!(["ro", null]),
    ];
    if p.os_family == "RedHat" {
        kernelparams.extend([
            json!(["crashkernel", "1G-4G:192M,4G-64G:256M,64G-:512M"]),
            json!(["resume", "/dev/mapper/vg0-swap"]),
            json!(["rd.lvm.lv", "vg0/root"]),
            json!(["rd.lvm.lv", "vg0/swap"]),
        ]);
    } else {
        kernelparams.extend([json!(["apparmor", "1"]), json!(["security", "apparmor"])]);
    }
    kernelparams.extend([
        json!(["console", "tty0"]),
        json!(["console", "ttyS0,115200n8"]),
        json!(["net.ifnames", "0"]),
        json!(["biosdevname", "0"]),
    ]);
    if role == "db" || role == "cache" {
        kernelparams.push(json!(["transparent_hugepage", "never"]));
    }
    kernelparams.push(json!(["quiet", null]));
    let iqn = if p.os_family == "Debian" {
        format!("iqn.2004-10.com.ubuntu:01:{}", rng.hex(6))
    } else {
        format!("iqn.1994-05.com.redhat:{}", rng.hex(6))
    };
    let mut extra_roles = vec![Value::from(role)];
    if rng.chance(0.3) {
        extra_roles.push(Value::from(*rng.pick(&[
            "monitoring-agent",
            "backup-client",
            "log-shipper",
        ])));
    }

    let mut g = json!({
        "cwd": "/",
        "ip_gw": true,
        "ip4_gw": gw,
        "ip6_gw": format!("fd00:{dc_n}:{:x}::1", (h / 250) % 256),
        "dns": dns,
        "fibre_channel_host": false,
        "fqdns": [fqdn],
        "machine_id": rng.hex(16),
        "master": "salt.example.net",
        "server_id": (rng.next_u64() % 2_147_483_647) as i64,
        "localhost": id,
        "fqdn": fqdn,
        "host": id,
        "domain": domain,
        "hwaddr_interfaces": {"lo": "00:00:00:00:00:00", "eth0": mac},
        "id": id,
        "ip4_interfaces": {"lo": ["127.0.0.1"], "eth0": [ip]},
        "ip6_interfaces": {"lo": ["::1"], "eth0": [ip6, format!("fe80::5054:ff:fe{:02x}:{:02x}{:02x}", (h >> 16) & 0xff, (h >> 8) & 0xff, h & 0xff)]},
        "ipv4": ["127.0.0.1", ip],
        "ipv6": ["::1", ip6],
        "fqdn_ip4": [ip],
        "fqdn_ip6": [ip6],
        "ip_interfaces": {"lo": ["127.0.0.1", "::1"], "eth0": [ip, ip6]},
        "kernelparams": kernelparams,
        "locale_info": {
            "defaultlanguage": "en_US",
            "defaultencoding": "UTF-8",
            "detectedencoding": "utf-8",
            "timezone": "UTC"
        },
        "num_gpus": 0,
        "gpus": [],
        "kernel": "Linux",
        "nodename": id,
        "kernelrelease": p.kernelrelease,
        "kernelversion": p.kernelversion,
        "cpuarch": cpuarch,
        "systemd": {"version": p.systemd, "features": SYSTEMD_FEATURES},
        "init": "systemd",
        "os": p.os,
        "os_family": p.os_family,
        "oscodename": p.oscodename,
        "osfullname": p.osfullname,
        "lsb_distrib_id": p.lsb_id,
        "lsb_distrib_release": p.osrelease,
        "lsb_distrib_codename": p.oscodename,
        "osrelease": p.osrelease,
        "num_cpus": num_cpus,
        "cpu_model": cpu_model,
        "osarch": osarch,
        "mem_total": mem_total,
        "swap_total": if virt == "container" { 0 } else { 2047 },
        "virtual": virt,
        "ps": "ps -efHww",
        "path": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "systempath": ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"],
        "pythonexecutable": format!("/opt/saltstack/salt/bin/python{py_short}"),
        "pythonpath": [
            "/opt/saltstack/salt",
            format!("/opt/saltstack/salt/extras-{py_short}"),
            format!("/opt/saltstack/salt/lib/python{py_nodot}.zip"),
            format!("/opt/saltstack/salt/lib/python{py_short}"),
            format!("/opt/saltstack/salt/lib/python{py_short}/lib-dynload"),
            format!("/opt/saltstack/salt/lib/python{py_short}/site-packages")
        ],
        "pythonversion": pyver_parts,
        "saltpath": format!("/opt/saltstack/salt/lib/python{py_short}/site-packages/salt"),
        "saltversion": saltversion,
        "saltversioninfo": release.info,
        "zmqversion": "4.3.5",
        "disks": [disk],
        "ssds": if disk == "nvme0n1" { json!([disk]) } else { json!([]) },
        "shell": "/bin/sh",
        "transactional": false,
        "efi": virt == "physical",
        "efi-secure-boot": false,
        "username": "root",
        "groupname": "root",
        "pid": 800 + rng.below(60_000) as i64,
        "gid": 0,
        "uid": 0,
        "package": "onedir",
        "ca_truststore": "system",
        "roles": extra_roles,
        "datacenter": dc
    });
    if let Some(m) = g.as_object_mut() {
        osrelease_data(p, m);
        if virt == "container" {
            m.insert("virtual_subtype".into(), "Docker".into());
        } else {
            m.insert("manufacturer".into(), manufacturer.into());
            m.insert("productname".into(), product.into());
            m.insert("serialnumber".into(), rng.hex(8).to_uppercase().into());
            m.insert("uuid".into(), boot_uuid.clone().into());
            m.insert("biosversion".into(), "1.16.3-2".into());
            m.insert("biosreleasedate".into(), "04/01/2014".into());
        }
        if p.os_family == "RedHat" {
            m.insert(
                "selinux".into(),
                json!({"enabled": true, "enforced": "Enforcing"}),
            );
        }
        m.insert("mdadm".into(), json!([]));
        m.insert("iscsi_iqn".into(), json!([iqn]));
        m.insert("zfs_support".into(), false.into());
        m.insert("zfs_feature_flags".into(), false.into());
        if virt != "container" {
            m.insert(
                "lvm".into(),
                json!({"vg0": ["root", "swap", "var", "home"]}),
            );
        }
        if virt == "physical" {
            m.insert("num_gpus".into(), 1.into());
            m.insert(
                "gpus".into(),
                json!([{"model": "Integrated Matrox G200eW3 Graphics Controller", "vendor": "matrox"}]),
            );
            m.insert("disks".into(), json!(["sda", "sdb", "nvme0n1"]));
        }
        if virt != "container" {
            // A second NIC on the backend network.
            let backend = format!("192.168.{}.{}", (h / 250) % 256, h % 250 + 2);
            for (k, v) in [
                (
                    "hwaddr_interfaces",
                    json!(format!(
                        "52:54:01:{:02x}:{:02x}:{:02x}",
                        (h >> 16) & 0xff,
                        (h >> 8) & 0xff,
                        h & 0xff
                    )),
                ),
                ("ip4_interfaces", json!([backend])),
                ("ip6_interfaces", json!([])),
                ("ip_interfaces", json!([backend])),
            ] {
                if let Some(Value::Object(ifaces)) = m.get_mut(k) {
                    ifaces.insert("eth1".into(), v);
                }
            }
            if let Some(Value::Array(a)) = m.get_mut("ipv4") {
                a.push(backend.into());
            }
        }
        if role == "k8s" || role == "ci" {
            let bridge = format!("172.17.{}.1", h % 250);
            for (k, v) in [
                (
                    "hwaddr_interfaces",
                    json!(format!(
                        "02:42:{:02x}:{:02x}:00:01",
                        (h >> 8) & 0xff,
                        h & 0xff
                    )),
                ),
                ("ip4_interfaces", json!([bridge])),
                ("ip6_interfaces", json!([])),
                ("ip_interfaces", json!([bridge])),
            ] {
                if let Some(Value::Object(ifaces)) = m.get_mut(k) {
                    ifaces.insert("docker0".into(), v);
                }
            }
            if let Some(Value::Array(a)) = m.get_mut("ipv4") {
                a.push(bridge.into());
            }
        }
    }

    // Pad with CPU flags to the target size (+-8% per minion, so sizes vary): the real flags
    // in order, each kept with 90% chance; the skipped ones, then numbered copies, only when a
    // large `grains_bytes` needs more.
    let base = serde_json::to_string(&g).unwrap_or_default().len();
    let jitter = cfg.grains_bytes * 8 / 100;
    let target = cfg.grains_bytes.saturating_sub(jitter) + rng.below(2 * jitter + 1);
    let (mut kept, mut skipped): (Vec<&str>, Vec<&str>) = (vec![], vec![]);
    for f in X86_FLAGS {
        if rng.chance(0.9) {
            kept.push(f);
        } else {
            skipped.push(f);
        }
    }
    let mut flags: Vec<Value> = vec![];
    let mut size = base + ",\"cpu_flags\":[]".len();
    let mut candidates = kept
        .into_iter()
        .chain(skipped)
        .map(String::from)
        .chain((1..).flat_map(|n| X86_FLAGS.iter().map(move |f| format!("{f}_{n}"))));
    while size < target {
        let Some(f) = candidates.next() else { break };
        let add = f.len() + 2 + usize::from(!flags.is_empty());
        if size + add > target && !flags.is_empty() {
            break;
        }
        size += add;
        flags.push(Value::from(f));
    }
    if let Some(m) = g.as_object_mut() {
        m.insert("cpu_flags".into(), Value::Array(flags));
    }

    let key = serde_json::to_string(&id).unwrap_or_default();
    let grains = serde_json::to_string(&g).unwrap_or_default();
    let mut entry = String::with_capacity(key.len() + 1 + grains.len());
    entry.push_str(&key);
    entry.push(':');
    let grains_at = entry.len();
    entry.push_str(&grains);
    let debian = p.os_family == "Debian";
    Minion {
        fingerprint: fingerprint(cfg.seed, &id),
        id,
        ip,
        online,
        saltversion,
        entry: entry.into_boxed_str(),
        grains_at,
        catalogue: catalogue_index(role, debian),
        debian,
        state_seed: Rng::for_minion(cfg.seed ^ 0x5354_4154_4553, index).next_u64(),
        packages: pkgs::Host {
            flavour: pkgs::Flavour::of(p.os_family),
            seed: Rng::for_minion(cfg.seed ^ 0x504B_4753, index).next_u64(),
            role,
            kernelrelease: p.kernelrelease,
        },
    }
}

// ---- HTTP --------------------------------------------------------------------------------

/// A CherryPy 18 error page (salt-api's error bodies are HTML; clients read the first `<p>`).
fn cherrypy_error(status: StatusCode, message: &str) -> Response {
    let code = status.as_u16();
    let reason = status.canonical_reason().unwrap_or("");
    let message = message
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    let body = format!(
        r#"<!DOCTYPE html PUBLIC
"-//W3C//DTD XHTML 1.0 Transitional//EN"
"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html>
<head>
    <meta http-equiv="Content-Type" content="text/html; charset=utf-8"></meta>
    <title>{code} {reason}</title>
    <style type="text/css">
    #powered_by {{
        margin-top: 20px;
        border-top: 2px solid black;
        font-style: italic;
    }}

    #traceback {{
        color: red;
    }}
    </style>
</head>
    <body>
        <h2>{code} {reason}</h2>
        <p>{message}</p>
        <pre id="traceback"></pre>
    <div id="powered_by">
      <span>
        Powered by <a href="http://www.cherrypy.dev">CherryPy 18.10.0</a>
      </span>
    </div>
    </body>
</html>
"#
    );
    (
        status,
        [(header::CONTENT_TYPE, "text/html;charset=utf-8")],
        body,
    )
        .into_response()
}

/// An error that aborts a request (salt-api answers the whole request with an error page).
struct HttpError(StatusCode, String);

impl HttpError {
    fn bad_request(msg: impl Into<String>) -> Self {
        HttpError(StatusCode::BAD_REQUEST, msg.into())
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        cherrypy_error(self.0, &self.1)
    }
}

fn json_response(body: String) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

const CLIENTS: &[&str] = &[
    "destroy",
    "local",
    "local_async",
    "local_batch",
    "local_subset",
    "runner",
    "runner_async",
    "ssh",
    "wheel",
    "wheel_async",
];

async fn welcome() -> Response {
    json_response(json!({"return": "Welcome", "clients": CLIENTS}).to_string())
}

async fn not_found(OriginalUri(uri): OriginalUri) -> Response {
    cherrypy_error(
        StatusCode::NOT_FOUND,
        &format!("The path '{}' was not found.", uri.path()),
    )
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A urlencoded body as one lowstate: repeated keys (and `arg`) become lists.
fn form_lowstate(body: &[u8]) -> Value {
    let text = String::from_utf8_lossy(body);
    let mut m = Map::new();
    for pair in text.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (k, v) = (percent_decode(k), Value::from(percent_decode(v)));
        match m.get_mut(&k) {
            Some(Value::Array(a)) => a.push(v),
            Some(old) => {
                let first = old.take();
                *old = Value::Array(vec![first, v]);
            }
            None => {
                m.insert(k, v);
            }
        }
    }
    Value::Object(m)
}

/// The body as a list of lowstate objects (JSON or urlencoded; a single object is wrapped).
fn parse_body(headers: &HeaderMap, body: &[u8]) -> Result<Vec<Value>, HttpError> {
    let v = if is_form(headers) {
        form_lowstate(body)
    } else {
        serde_json::from_slice::<Value>(body)
            .map_err(|_| HttpError::bad_request("Invalid JSON document"))?
    };
    match v {
        Value::Object(_) => Ok(vec![v]),
        Value::Array(a) => Ok(a),
        _ => Err(HttpError::bad_request("Lowstates must be a list")),
    }
}

async fn login(State(sim): State<Arc<Sim>>, headers: HeaderMap, body: Bytes) -> Response {
    let creds = match parse_body(&headers, &body) {
        Ok(mut v) if !v.is_empty() => v.swap_remove(0),
        Ok(_) => Value::Null,
        Err(e) => return e.into_response(),
    };
    let field = |k: &str| creds.get(k).and_then(Value::as_str).unwrap_or("");
    let (user, password, eauth) = (field("username"), field("password"), field("eauth"));
    let ok = !eauth.is_empty()
        && user == sim.username
        && bool::from(subtle::ConstantTimeEq::ct_eq(
            password.as_bytes(),
            sim.password.as_bytes(),
        ));
    if !ok {
        return cherrypy_error(
            StatusCode::UNAUTHORIZED,
            "Could not authenticate using provided credentials",
        );
    }
    let token = hex::encode(rand::random::<[u8; 20]>());
    let start = now_epoch();
    let expire = start + TOKEN_LIFETIME_SECS;
    {
        let mut tokens = lock(&sim.tokens);
        tokens.retain(|_, t| t.expire > start);
        tokens.insert(
            token.clone(),
            Token {
                user: user.to_string(),
                expire,
            },
        );
    }
    let body = json!({"return": [{
        "token": token,
        "expire": expire,
        "start": start,
        "user": user,
        "eauth": eauth,
        "perms": PERMS,
    }]});
    let mut resp = json_response(body.to_string());
    if let Ok(v) = HeaderValue::from_str(&token) {
        resp.headers_mut().insert("x-auth-token", v);
    }
    resp
}

async fn logout(State(sim): State<Arc<Sim>>, headers: HeaderMap) -> Response {
    let Some(token) = header_token(&headers) else {
        return cherrypy_error(
            StatusCode::UNAUTHORIZED,
            "No permission -- see authorization schemes",
        );
    };
    if lock(&sim.tokens).remove(token).is_none() {
        return cherrypy_error(
            StatusCode::UNAUTHORIZED,
            "No permission -- see authorization schemes",
        );
    }
    json_response(json!({"return": "Your token has been cleared"}).to_string())
}

/// `GET /events`: the server-sent event stream (header auth; 3008 refuses query strings).
/// Carries the job (`salt/job/<jid>/new`, `.../ret/<id>`) and key (`salt/key`) events of the
/// calls made to this simulator.
async fn events(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    if query.is_some() {
        return cherrypy_error(
            StatusCode::BAD_REQUEST,
            "The /events endpoint takes no query parameters; in particular, tokens must not be \
             passed via the query string -- they end up in access logs and the Referer header. \
             Use the 'X-Auth-Token' header (for non-browser clients) or the session cookie set by \
             /login (for browser EventSource clients) instead.",
        );
    }
    if header_token(&headers)
        .and_then(|t| sim.token_user(t))
        .is_none()
    {
        return cherrypy_error(
            StatusCode::UNAUTHORIZED,
            "No permission -- see authorization schemes",
        );
    }
    let rx = sim.bus.subscribe();
    let first = futures::stream::once(async {
        Ok::<_, std::convert::Infallible>(Bytes::from("retry: 400\n\n"))
    });
    let rest = futures::stream::unfold(rx, |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(frame) => return Some((Ok(Bytes::from(frame.as_bytes().to_vec())), rx)),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/event-stream;charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        axum::body::Body::from_stream(futures::StreamExt::chain(first, rest)),
    )
        .into_response()
}

fn header_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get("x-auth-token")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

async fn run_lowstate(State(sim): State<Arc<Sim>>, headers: HeaderMap, body: Bytes) -> Response {
    // CherryPy's salt_auth tool: no session with a token -> a bare 401.
    let Some(user) = header_token(&headers).and_then(|t| sim.token_user(t)) else {
        return cherrypy_error(
            StatusCode::UNAUTHORIZED,
            "No permission -- see authorization schemes",
        );
    };
    let chunks = match parse_body(&headers, &body) {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    // Big replies (cache.grains, a highstate's list_job over 10k minions) are built off the
    // async workers, and sent as they are (no copy into one more buffer).
    let result = tokio::task::spawn_blocking(move || {
        let mut parts: Vec<Bytes> = Vec::with_capacity(2 * chunks.len() + 1);
        parts.push(Bytes::from_static(b"{\"return\": ["));
        for (i, chunk) in chunks.into_iter().enumerate() {
            if i > 0 {
                parts.push(Bytes::from_static(b", "));
            }
            parts.push(Bytes::from(sim.exec(chunk, &user)?));
        }
        parts.push(Bytes::from_static(b"]}"));
        Ok::<Vec<Bytes>, HttpError>(parts)
    })
    .await;
    match result {
        Ok(Ok(parts)) => (
            StatusCode::OK,
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                ),
                (
                    header::CONTENT_LENGTH,
                    HeaderValue::from(parts.iter().map(Bytes::len).sum::<usize>()),
                ),
            ],
            axum::body::Body::from_stream(futures::stream::iter(
                parts.into_iter().map(Ok::<Bytes, std::convert::Infallible>),
            )),
        )
            .into_response(),
        Ok(Err(e)) => e.into_response(),
        Err(_) => cherrypy_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "An unexpected error occurred",
        ),
    }
}

// ---- lowstate execution ------------------------------------------------------------------

/// A lowstate argument: a top-level key, else inside `kwarg`.
fn param<'a>(low: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    low.get(name)
        .or_else(|| low.get("kwarg").and_then(|k| k.get(name)))
}

fn param_bool(low: &Map<String, Value>, name: &str) -> bool {
    match param(low, name) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => matches!(s.to_ascii_lowercase().as_str(), "true" | "1" | "yes"),
        Some(Value::Number(n)) => n.as_i64().is_some_and(|n| n != 0),
        _ => false,
    }
}

fn param_str<'a>(low: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    param(low, name).and_then(Value::as_str)
}

fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

/// A runner exception, as the runner client returns it (200 with a string).
fn runner_exception(fun: &str, exc: &str, msg: &str) -> String {
    to_json(&format!(
        "Exception occurred in runner {fun}: Traceback (most recent call last):\n  File \
         \"/opt/saltstack/salt/lib/python3.11/site-packages/salt/client/mixins.py\", line 386, \
         in low\n    salt.utils.lazy.verify_fun(self_functions, fun)\n{exc}: {msg}\n"
    ))
}

const LIST_JOB_USAGE: &str = "\nPassed invalid arguments: list_job() missing 1 required positional argument: 'jid'\n\nUsage:\n\n    List a specific job given by its jid\n\n    ext_source\n        If provided, specifies which external job cache to use.\n\n    display_progress : False\n        If ``True``, fire progress events.\n\n        .. versionadded:: 2015.8.8\n\n    CLI Example:\n\n    .. code-block:: bash\n\n        salt-run jobs.list_job 20130916125524463507\n        salt-run jobs.list_job 20130916125524463507 --out=pprint\n    ";

fn no_response_text(jid: &str) -> String {
    format!(
        "Minion did not return. [No response]\nThe minions may not have all finished running and \
         any remaining minions will return upon completion. To look up the return data for this \
         job later, run the following command:\n\nsalt-run jobs.lookup_jid {jid}"
    )
}

const NOT_CONNECTED: &str = "Minion did not return. [Not connected]";

impl Sim {
    fn exec(&self, chunk: Value, user: &str) -> Result<String, HttpError> {
        let Value::Object(mut low) = chunk else {
            return Err(HttpError::bad_request(
                "Lowstates must be a list of objects",
            ));
        };
        if let Some(arg) = low.get_mut("arg") {
            if !arg.is_array() {
                let one = arg.take();
                *arg = Value::Array(vec![one]);
            }
        }
        let client = low.get("client").and_then(Value::as_str).unwrap_or("None");
        if !CLIENTS.contains(&client) {
            return Err(HttpError::bad_request(format!(
                "Invalid client specified: '{client}'"
            )));
        }
        let client = client.to_string();
        let fun = match low.get("fun").and_then(Value::as_str) {
            Some(f) if !f.is_empty() => f.to_string(),
            _ => return Err(HttpError::bad_request("Missing 'fun' in the lowstate")),
        };
        match client.as_str() {
            "local" => self.local(&low, &fun, user, false),
            "local_async" => self.local(&low, &fun, user, true),
            "runner" => Ok(self.runner(&low, &fun, user)),
            "wheel" => Ok(self.wheel(&low, &fun, user)),
            other => Err(HttpError::bad_request(format!(
                "Client disabled: '{other}'. Add to 'netapi_enable_clients' master config option to enable."
            ))),
        }
    }

    // ---- local ---------------------------------------------------------------------------

    fn local(
        &self,
        low: &Map<String, Value>,
        fun: &str,
        user: &str,
        is_async: bool,
    ) -> Result<String, HttpError> {
        let tgt = low
            .get("tgt")
            .ok_or_else(|| HttpError::bad_request("Missing 'tgt' in the lowstate"))?;
        let tgt_type = low
            .get("tgt_type")
            .or_else(|| low.get("expr_form"))
            .and_then(Value::as_str)
            .unwrap_or("glob");
        let mut args = low.get("arg").cloned().unwrap_or_else(|| json!([]));
        if let (Some(Value::Object(kw)), Value::Array(a)) = (low.get("kwarg"), &mut args) {
            if !kw.is_empty() {
                let mut kw = kw.clone();
                kw.insert("__kwarg__".into(), true.into());
                a.push(Value::Object(kw));
            }
        }
        let (found, missing) = {
            let keys = self.keys();
            self.target(&keys, tgt, tgt_type)
                .map_err(HttpError::bad_request)?
        };
        if found.is_empty() && missing.is_empty() {
            return Ok("{}".into());
        }
        let jid = self.next_jid();
        let fixed = (tgt_type == "list").then(|| {
            found
                .iter()
                .map(|i| self.minions[*i].id.clone())
                .chain(missing.iter().cloned())
                .collect()
        });
        let fun_args = args.as_array().cloned().unwrap_or_default();
        if self.bus.receiver_count() > 0 {
            let ids: Vec<&str> = found.iter().map(|i| self.minions[*i].id.as_str()).collect();
            self.publish(
                &format!("salt/job/{jid}/new"),
                json!({"jid": jid, "tgt_type": tgt_type, "tgt": tgt, "user": user, "fun": fun,
                       "arg": args, "minions": ids, "missing": missing}),
            );
            for &i in &found {
                let m = &self.minions[i];
                if !m.online {
                    continue;
                }
                let Some((ret, retcode, out)) = self.minion_call(m, fun, &fun_args, &jid) else {
                    continue;
                };
                let mut data = json!({
                    "cmd": "_return", "id": m.id, "success": retcode == 0,
                    "return": serde_json::from_str::<Value>(&ret).unwrap_or(Value::Null),
                    "retcode": retcode, "jid": jid, "fun": fun, "fun_args": fun_args,
                    "user": user, "ts": Utc::now().timestamp(),
                });
                if let Some(o) = out {
                    data["out"] = o.into();
                }
                self.publish(&format!("salt/job/{jid}/ret/{}", m.id), data);
            }
        }
        let reply = if is_async {
            let ids: Vec<&str> = found.iter().map(|i| self.minions[*i].id.as_str()).collect();
            to_json(&json!({"jid": jid, "minions": ids}))
        } else {
            let full = param_bool(low, "full_return");
            let mut out = String::from("{");
            let mut first = true;
            let mut push = |out: &mut String, id: &str, body: &str| {
                if !first {
                    out.push_str(", ");
                }
                first = false;
                out.push_str(&to_json(&id));
                out.push_str(": ");
                out.push_str(body);
            };
            for &i in &found {
                let m = &self.minions[i];
                let body = if !m.online {
                    if full {
                        to_json(&json!({"out": "no_return", "ret": NOT_CONNECTED, "retcode": 1}))
                    } else {
                        to_json(&NOT_CONNECTED)
                    }
                } else if let Some((ret, retcode, out_fmt)) =
                    self.minion_call(m, fun, &fun_args, &jid)
                {
                    if full {
                        let mut s =
                            format!("{{\"ret\": {ret}, \"retcode\": {retcode}, \"jid\": \"{jid}\"");
                        if let Some(o) = out_fmt {
                            let _ = write!(s, ", \"out\": \"{o}\"");
                        }
                        s.push('}');
                        s
                    } else {
                        ret
                    }
                } else {
                    let text = no_response_text(&jid);
                    if full {
                        to_json(&json!({"out": "no_return", "ret": text, "retcode": 1}))
                    } else {
                        to_json(&text)
                    }
                };
                push(&mut out, &m.id, &body);
            }
            for name in &missing {
                let text = no_response_text(&jid);
                let body = if full {
                    to_json(&json!({"out": "no_return", "ret": text, "retcode": 1}))
                } else {
                    to_json(&text)
                };
                push(&mut out, name, &body);
            }
            out.push('}');
            out
        };
        self.record(
            jid,
            Job {
                jid: String::new(),
                fun: fun.to_string(),
                args,
                tgt: tgt.clone(),
                tgt_type: tgt_type.to_string(),
                user: user.to_string(),
                minions: fixed,
            },
        );
        Ok(reply)
    }

    // ---- runner --------------------------------------------------------------------------

    fn runner(&self, low: &Map<String, Value>, fun: &str, user: &str) -> String {
        let jid = self.next_jid();
        let reply = match fun {
            "manage.present" | "manage.up" | "manage.down" => {
                let want_online = fun != "manage.down";
                let keys = self.keys();
                let hits = self
                    .minions
                    .iter()
                    .zip(keys.iter())
                    .filter(|(m, k)| **k == KeyState::Accepted && m.online == want_online)
                    .map(|(m, _)| m);
                if param_bool(low, "show_ip") {
                    let map: Map<String, Value> = hits
                        .map(|m| (m.id.clone(), Value::from(m.ip.clone())))
                        .collect();
                    to_json(&map)
                } else {
                    to_json(&hits.map(|m| m.id.as_str()).collect::<Vec<_>>())
                }
            }
            "manage.status" => {
                let keys = self.keys();
                let (mut up, mut down) = (vec![], vec![]);
                for (m, k) in self.minions.iter().zip(keys.iter()) {
                    if *k == KeyState::Accepted {
                        if m.online {
                            up.push(m.id.as_str())
                        } else {
                            down.push(m.id.as_str())
                        }
                    }
                }
                to_json(&json!({"up": up, "down": down}))
            }
            "cache.grains" => self.cache_grains(low, fun),
            "jobs.list_jobs" => self.list_jobs(low, fun),
            "jobs.list_job" => self.list_job(low),
            "jobs.active" => "{}".into(),
            _ => runner_exception(
                fun,
                "salt.exceptions.CommandExecutionError",
                &format!("'{fun}' is not available."),
            ),
        };
        self.record_master_job(jid, format!("runner.{fun}"), user);
        reply
    }

    fn cache_grains(&self, low: &Map<String, Value>, fun: &str) -> String {
        let tgt = param(low, "tgt").cloned().unwrap_or_else(|| json!("*"));
        let tgt_type = param_str(low, "tgt_type").unwrap_or("glob");
        let keys = self.keys();
        let found = match self.target(&keys, &tgt, tgt_type) {
            Ok((found, _)) => found,
            Err(e) => {
                return runner_exception(fun, "salt.exceptions.SaltInvocationError", &e);
            }
        };
        drop(keys);
        let len: usize = found.iter().map(|i| self.minions[*i].entry.len() + 2).sum();
        let mut out = String::with_capacity(len + 2);
        out.push('{');
        for (n, &i) in found.iter().enumerate() {
            if n > 0 {
                out.push_str(", ");
            }
            out.push_str(&self.minions[i].entry);
        }
        out.push('}');
        out
    }

    fn list_jobs(&self, low: &Map<String, Value>, fun: &str) -> String {
        let bound = |name: &str| -> Result<Option<String>, String> {
            match param_str(low, name) {
                None | Some("") => Ok(None),
                Some(s) => parse_time_filter(s)
                    .map(Some)
                    .ok_or_else(|| format!("Unknown string format: {s}")),
            }
        };
        let (start, end) = match (bound("start_time"), bound("end_time")) {
            (Ok(s), Ok(e)) => (s, e),
            (Err(e), _) | (_, Err(e)) => {
                return runner_exception(fun, "dateutil.parser._parser.ParserError", &e)
            }
        };
        let split = |name: &str| -> Option<Vec<String>> {
            match param(low, name)? {
                Value::String(s) => Some(s.split(',').map(|x| x.trim().to_string()).collect()),
                Value::Array(a) => Some(
                    a.iter()
                        .filter_map(|v| v.as_str().map(String::from))
                        .collect(),
                ),
                _ => None,
            }
        };
        let (search_fun, search_tgt) = (split("search_function"), split("search_target"));
        let log = lock(&self.jobs);
        let mut out = Map::new();
        for j in &log.jobs {
            let when = &j.jid[..20.min(j.jid.len())];
            if start.as_deref().is_some_and(|s| when < s)
                || end.as_deref().is_some_and(|e| when > e)
            {
                continue;
            }
            if let Some(pats) = &search_fun {
                if !pats.iter().any(|p| glob_match(p, &j.fun)) {
                    continue;
                }
            }
            if let Some(pats) = &search_tgt {
                let targets: Vec<&str> = match &j.tgt {
                    Value::String(s) => vec![s.as_str()],
                    Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
                    _ => vec![],
                };
                if !targets
                    .iter()
                    .any(|t| pats.iter().any(|p| glob_match(p, t)))
                {
                    continue;
                }
            }
            out.insert(j.jid.clone(), job_summary(j));
        }
        to_json(&out)
    }

    fn list_job(&self, low: &Map<String, Value>) -> String {
        let Some(jid) = param(low, "jid").map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }) else {
            return to_json(&LIST_JOB_USAGE);
        };
        let job = {
            let log = lock(&self.jobs);
            log.jobs.iter().find(|j| j.jid == jid).map(|j| Job {
                jid: j.jid.clone(),
                fun: j.fun.clone(),
                args: j.args.clone(),
                tgt: j.tgt.clone(),
                tgt_type: j.tgt_type.clone(),
                user: j.user.clone(),
                minions: j.minions.clone(),
            })
        };
        let Some(job) = job else {
            return to_json(&json!({
                "jid": jid,
                "Error": "Cannot contact returner or no job with this jid",
                "StartTime": jid_to_time(&jid),
                "Result": {},
            }));
        };
        let minions = self.job_minions(&job);
        let mut v = job_summary(&job);
        if let Some(obj) = v.as_object_mut() {
            obj.insert("jid".into(), job.jid.clone().into());
            obj.insert("Minions".into(), json!(minions));
        }
        // The summary, then `"Result"` written entry by entry: a highstate over 10k minions
        // is ~100 MB of JSON, built once, straight into the reply.
        let mut out = to_json(&v);
        out.pop();
        out.push_str(", \"Result\": {");
        let master_job = job.fun.starts_with("runner.") || job.fun.starts_with("wheel.");
        let args = job.args.as_array().cloned().unwrap_or_default();
        let state_call = states::StateCall::parse(&job.fun, &args);
        let mut first = true;
        for id in &minions {
            let mark = out.len();
            if !first {
                out.push_str(", ");
            }
            out.push_str(&to_json(id));
            out.push_str(": ");
            if master_job {
                out.push_str(&to_json(&json!({"return": {"fun": job.fun, "jid": job.jid, "user": job.user, "success": true}, "retcode": 0, "success": true})));
                first = false;
                continue;
            }
            let Some(m) = self.by_id.get(id).map(|i| &self.minions[*i]) else {
                out.truncate(mark);
                continue;
            };
            if !m.online {
                out.truncate(mark);
                continue;
            }
            // A minion that did not return is absent from Result (it stays in Minions).
            let returned = match &state_call {
                Some(call) => {
                    out.push_str("{\"return\": ");
                    let cat = &self.catalogues[m.catalogue];
                    states::write_return(cat, m.state_seed, m.debian, &job.jid, call, &mut out)
                        .map(|rc| (rc, Some("highstate")))
                }
                None => self
                    .minion_call(m, &job.fun, &args, &job.jid)
                    .map(|(ret, rc, fmt)| {
                        out.push_str("{\"return\": ");
                        out.push_str(&ret);
                        (rc, fmt)
                    }),
            };
            let Some((retcode, fmt)) = returned else {
                out.truncate(mark);
                continue;
            };
            let _ = write!(
                out,
                ", \"retcode\": {retcode}, \"success\": {}",
                retcode == 0
            );
            if let Some(o) = fmt {
                let _ = write!(out, ", \"out\": \"{o}\"");
            }
            out.push('}');
            first = false;
        }
        out.push_str("}}");
        out
    }

    // ---- wheel ---------------------------------------------------------------------------

    fn wheel(&self, low: &Map<String, Value>, fun: &str, user: &str) -> String {
        let jid = self.next_jid();
        let (ret, success) = match fun {
            "key.list_all" => (self.key_list_all(), true),
            "key.finger" => match self.key_match(low) {
                Some(pats) => (self.key_finger(&pats), true),
                None => missing_match(fun),
            },
            "key.accept" | "key.reject" | "key.delete" => match self.key_match(low) {
                Some(pats) => (self.key_change(fun, &pats, low), true),
                None => missing_match(fun),
            },
            _ => (
                Value::from(format!(
                    "Exception occurred in wheel {fun}: CommandExecutionError: '{fun}' is not available."
                )),
                false,
            ),
        };
        let tag = format!("salt/wheel/{jid}");
        let reply = json!({
            "tag": tag,
            "data": {
                "fun": format!("wheel.{fun}"),
                "jid": jid,
                "tag": tag,
                "user": user,
                "return": ret,
                "success": success,
            }
        });
        self.record_master_job(jid, format!("wheel.{fun}"), user);
        to_json(&reply)
    }

    /// `match`: a glob, a comma-separated string or a list of globs.
    fn key_match(&self, low: &Map<String, Value>) -> Option<Vec<String>> {
        match param(low, "match")? {
            Value::String(s) if s.contains(',') => {
                Some(s.split(',').map(|x| x.trim().to_string()).collect())
            }
            Value::String(s) => Some(vec![s.clone()]),
            Value::Array(a) => Some(
                a.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect(),
            ),
            _ => None,
        }
    }

    fn key_list_all(&self) -> Value {
        let keys = self.keys();
        let mut groups: Vec<Vec<&str>> = vec![vec![]; 4];
        for (m, k) in self.minions.iter().zip(keys.iter()) {
            if let Some(g) = KEY_GROUPS.iter().position(|(s, _)| s == k) {
                groups[g].push(&m.id);
            }
        }
        let mut out = Map::new();
        for ((_, name), ids) in KEY_GROUPS.iter().zip(groups) {
            out.insert((*name).into(), json!(ids));
        }
        out.insert(
            "local".into(),
            json!([format!("{MASTER_ID}.pem"), format!("{MASTER_ID}.pub")]),
        );
        Value::Object(out)
    }

    /// Salt's `Key.glob_match`: matching ids grouped by key state (groups without a match are
    /// left out).
    fn glob_groups(&self, keys: &[KeyState], pats: &[String]) -> Map<String, Value> {
        let mut out: Map<String, Value> = Map::new();
        let mut add = |i: usize| {
            if let Some(g) = keys[i].group() {
                if let Value::Array(a) = out.entry(g).or_insert_with(|| json!([])) {
                    a.push(self.minions[i].id.clone().into());
                }
            }
        };
        if pats.iter().all(|p| !has_glob_magic(p)) {
            let mut idx: Vec<usize> = pats
                .iter()
                .filter_map(|p| self.by_id.get(p).copied())
                .collect();
            idx.sort_unstable();
            idx.dedup();
            idx.into_iter().for_each(&mut add);
        } else {
            (0..self.minions.len())
                .filter(|i| pats.iter().any(|p| glob_match(p, &self.minions[*i].id)))
                .for_each(&mut add);
        }
        out
    }

    fn key_finger(&self, pats: &[String]) -> Value {
        let keys = self.keys();
        let groups = self.glob_groups(&keys, pats);
        let mut out = Map::new();
        for (group, ids) in groups {
            let fps: Map<String, Value> = ids
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .filter_map(|id| self.by_id.get(id))
                .map(|&i| {
                    (
                        self.minions[i].id.clone(),
                        self.minions[i].fingerprint.clone().into(),
                    )
                })
                .collect();
            out.insert(group, Value::Object(fps));
        }
        Value::Object(out)
    }

    /// accept/reject/delete; the reply is `glob_match(match)` after the change, as in Salt.
    fn key_change(&self, fun: &str, pats: &[String], low: &Map<String, Value>) -> Value {
        let mut keys = self.keys_mut();
        let before = self.glob_groups(&keys, pats);
        let (from, to): (Vec<KeyState>, KeyState) = match fun {
            "key.accept" => {
                let mut from = vec![KeyState::Pending];
                if param_bool(low, "include_rejected") {
                    from.push(KeyState::Rejected);
                }
                if param_bool(low, "include_denied") {
                    from.push(KeyState::Denied);
                }
                (from, KeyState::Accepted)
            }
            "key.reject" => {
                let mut from = vec![KeyState::Pending];
                if param_bool(low, "include_accepted") {
                    from.push(KeyState::Accepted);
                }
                if param_bool(low, "include_denied") {
                    from.push(KeyState::Denied);
                }
                (from, KeyState::Rejected)
            }
            _ => (
                vec![
                    KeyState::Accepted,
                    KeyState::Pending,
                    KeyState::Rejected,
                    KeyState::Denied,
                ],
                KeyState::Deleted,
            ),
        };
        for ids in before.values() {
            for id in ids
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                if let Some(&i) = self.by_id.get(id) {
                    if from.contains(&keys[i]) {
                        keys[i] = to;
                        let act = match to {
                            KeyState::Accepted => "accept",
                            KeyState::Rejected => "reject",
                            _ => "delete",
                        };
                        self.publish(
                            "salt/key",
                            json!({"result": true, "act": act, "id": self.minions[i].id}),
                        );
                    }
                }
            }
        }
        Value::Object(self.glob_groups(&keys, pats))
    }
}

fn missing_match(fun: &str) -> (Value, bool) {
    let name = fun.rsplit('.').next().unwrap_or(fun);
    (
        Value::from(format!(
            "Exception occurred in wheel {fun}: SaltInvocationError: {name} takes at least 1 argument (0 given)"
        )),
        false,
    )
}

/// `jobs.list_jobs` row (Salt's `format_jid_instance`).
fn job_summary(j: &Job) -> Value {
    json!({
        "Function": j.fun,
        "Arguments": j.args,
        "Target": j.tgt,
        "Target-type": j.tgt_type,
        "User": j.user,
        "StartTime": jid_to_time(&j.jid),
    })
}

impl Sim {
    /// What one online minion answers to `fun` in job `jid`: (raw JSON return, retcode,
    /// outputter); `None` when it does not return (some do not, in a state run).
    fn minion_call(
        &self,
        m: &Minion,
        fun: &str,
        args: &[Value],
        jid: &str,
    ) -> Option<(String, i64, Option<&'static str>)> {
        if fun == "pkg.list_pkgs" {
            let mut ret = String::new();
            self.packages
                .write_list_pkgs(&m.packages, pkgs::versions_as_list(args), &mut ret);
            return Some((ret, 0, None));
        }
        let Some(call) = states::StateCall::parse(fun, args) else {
            return Some(plain_call(m, fun, args));
        };
        let mut ret = String::new();
        let cat = &self.catalogues[m.catalogue];
        states::write_return(cat, m.state_seed, m.debian, jid, &call, &mut ret)
            .map(|rc| (ret, rc, Some("highstate")))
    }
}

/// What one online minion answers to a function that is not a simulated state run: (raw
/// JSON return, retcode, outputter).
fn plain_call(m: &Minion, fun: &str, args: &[Value]) -> (String, i64, Option<&'static str>) {
    let arg_str = |i: usize| args.get(i).and_then(Value::as_str).unwrap_or("");
    match fun {
        "test.ping" => ("true".into(), 0, None),
        "test.version" => (to_json(&m.saltversion), 0, None),
        "test.echo" => (to_json(&arg_str(0)), 0, None),
        "grains.items" => (m.grains_json().to_string(), 0, None),
        "grains.get" => {
            let g = Value::Object(m.grains());
            let v = grain_path(&g, arg_str(0))
                .cloned()
                .or_else(|| args.get(1).filter(|d| !d.is_object()).cloned())
                .unwrap_or_else(|| Value::from(""));
            (to_json(&v), 0, None)
        }
        "grains.item" => {
            let g = m.grains();
            let out: Map<String, Value> = args
                .iter()
                .filter_map(Value::as_str)
                .map(|k| {
                    (
                        k.to_string(),
                        g.get(k).cloned().unwrap_or_else(|| Value::from("")),
                    )
                })
                .collect();
            (to_json(&out), 0, None)
        }
        "cmd.run" => ("\"\"".into(), 0, None),
        "saltutil.find_job" => ("{}".into(), 0, None),
        f if f.starts_with("state.") => {
            let id = "file_|-motd_|-/etc/motd_|-managed";
            let ret = json!({id: {
                "name": "/etc/motd", "result": true, "changes": {},
                "comment": "File /etc/motd is in the correct state", "__sls__": "common",
                "__run_num__": 0, "start_time": "06:21:11.716004", "duration": 4.2, "__id__": "motd"
            }});
            (to_json(&ret), 0, Some("highstate"))
        }
        _ => (
            to_json(&format!("'{fun}' is not available.")),
            1,
            Some("nested"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob() {
        assert!(glob_match("*", "sim-web-00001"));
        assert!(glob_match("sim-web-*", "sim-web-00001"));
        assert!(!glob_match("sim-web-*", "sim-db-00002"));
        assert!(glob_match("sim-*-0000?", "sim-db-00002"));
        assert!(glob_match("sim-[dw]*", "sim-db-00002"));
        assert!(!glob_match("sim-[!dw]*", "sim-db-00002"));
        assert!(glob_match("sim-[a-e]b-*", "sim-db-00002"));
        assert!(glob_match("a[b", "a[b"));
        assert!(glob_match("*-00002", "sim-db-00002"));
        assert!(!glob_match("", "x"));
    }

    #[test]
    fn jid_time() {
        assert_eq!(
            jid_to_time("20261127062111716004"),
            "2026, Nov 27 06:21:11.716004"
        );
        assert_eq!(jid_to_time("bogus"), "");
        assert_eq!(
            parse_time_filter("2026-11-27 06:21:11").as_deref(),
            Some("20261127062111000000")
        );
    }

    #[test]
    fn form_body() {
        let v = form_lowstate(b"client=local&tgt=%2A&fun=test.ping&arg=a&arg=b+c");
        assert_eq!(v["tgt"], "*");
        assert_eq!(v["arg"], json!(["a", "b c"]));
        assert_eq!(percent_decode("%zz%"), "%zz%");
    }
}
