//! Reproducible generator of realistic `iptables-save` dumps for benchmarks and
//! tests. Only uses std.
//!
//! ```text
//! cargo run --release --example gen-dump -- kube --services N --endpoints E [--seed S]
//! cargo run --release --example gen-dump -- flat --rules N [--seed S]
//! ```
//!
//! The dump is written to stdout. The same arguments (including `--seed`,
//! default 1) always produce byte-identical output.
//!
//! `kube` mimics what kube-proxy (iptables mode, v1.28+ `syncProxyRules`)
//! programs, as printed back by `iptables-save` v1.8.9 (nf_tables):
//! chains are listed builtin-first then alphabetically, rules are grouped per
//! chain, comments are quoted the way `xtables_save_string` quotes them,
//! `MARK --or-mark`/`--xor-mark` are shown in their saved `--set-xmark` form,
//! and statistic probabilities are shown with 11 decimals after the kernel's
//! 2^31 fixed-point rounding (e.g. 1/3 -> 0.33333333349).
//! Chain-name hashes are kube-proxy's own: the first 16 chars of
//! base32(sha256(servicePortName + protocol [+ endpoint])).
//!
//! `flat` is a hand-written host firewall: policies, a few user chains, a
//! handful of loopback/conntrack/ICMP rules, then N `-s IP/32 -p tcp -m tcp
//! --dport P -j ACCEPT|DROP` rules in INPUT.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::io::{self, Write};
use std::process::exit;

// --------------------------------------------------------------------------
// PRNG: splitmix64

struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed ^ 0x5851_F42D_4C95_7F2D)
    }
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, n).
    fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0);
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }
    fn range(&mut self, lo: u64, hi_incl: u64) -> u64 {
        lo + self.below(hi_incl - lo + 1)
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }
    /// true with probability num/den
    fn chance(&mut self, num: u64, den: u64) -> bool {
        self.below(den) < num
    }
}

// --------------------------------------------------------------------------
// SHA-256 + base32, to reproduce kube-proxy's chain names exactly.

fn sha256(data: &[u8]) -> [u8; 32] {
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];
    let mut h: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    let mut msg = data.to_vec();
    let bit_len = (data.len() as u64).wrapping_mul(8);
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&bit_len.to_be_bytes());
    for block in msg.chunks_exact(64) {
        let mut w = [0u32; 64];
        for i in 0..16 {
            w[i] = u32::from_be_bytes([
                block[4 * i],
                block[4 * i + 1],
                block[4 * i + 2],
                block[4 * i + 3],
            ]);
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16]
                .wrapping_add(s0)
                .wrapping_add(w[i - 7])
                .wrapping_add(s1);
        }
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut hh] = h;
        for i in 0..64 {
            let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
            let ch = (e & f) ^ (!e & g);
            let t1 = hh
                .wrapping_add(s1)
                .wrapping_add(ch)
                .wrapping_add(K[i])
                .wrapping_add(w[i]);
            let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
            let maj = (a & b) ^ (a & c) ^ (b & c);
            let t2 = s0.wrapping_add(maj);
            hh = g;
            g = f;
            f = e;
            e = d.wrapping_add(t1);
            d = c;
            c = b;
            b = a;
            a = t1.wrapping_add(t2);
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d, e, f, g, hh]) {
            *x = x.wrapping_add(y);
        }
    }
    let mut out = [0u8; 32];
    for (i, x) in h.iter().enumerate() {
        out[4 * i..4 * i + 4].copy_from_slice(&x.to_be_bytes());
    }
    out
}

/// First 16 characters of RFC 4648 base32 (StdEncoding) of sha256(s),
/// i.e. kube-proxy's `portProtoHash` / endpoint chain hash.
fn kube_hash(s: &str) -> String {
    const ALPHA: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let d = sha256(s.as_bytes());
    // 16 base32 chars = 80 bits = first 10 bytes.
    let mut acc: u128 = 0;
    for b in &d[..10] {
        acc = (acc << 8) | *b as u128;
    }
    let mut out = String::with_capacity(16);
    for i in (0..16).rev() {
        out.push(ALPHA[((acc >> (5 * i)) & 31) as usize] as char);
    }
    out
}

// --------------------------------------------------------------------------
// helpers

fn ip(a: u32) -> String {
    format!(
        "{}.{}.{}.{}",
        a >> 24,
        (a >> 16) & 255,
        (a >> 8) & 255,
        a & 255
    )
}

/// Quote like iptables' `xtables_save_string`: bare if non-empty and only
/// `[A-Za-z0-9_-]`, otherwise in double quotes with `"`, `\` and `'` escaped.
fn save_str(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return s.to_string();
    }
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' || c == '\'' {
            o.push('\\');
        }
        o.push(c);
    }
    o.push('"');
    o
}

/// kube-proxy asks for 1/n with "%0.10f"; the kernel stores it as
/// lround(2^31 * p) and iptables-save prints that back with "%.11f".
fn probability(n: usize) -> String {
    let p: f64 = format!("{:.10}", 1.0 / n as f64).parse().unwrap();
    let fixed = (2147483648.0_f64 * p).round();
    format!("{:.11}", fixed / 2147483648.0)
}

const STAMP: &str = "Thu Jan  1 00:00:00 2026";

struct Table {
    name: &'static str,
    builtins: &'static [(&'static str, &'static str)],
    /// (chain name, rules) for user chains; sorted before output.
    user: Vec<(String, Vec<String>)>,
    /// rules for builtin chains, same order as `builtins`.
    builtin_rules: Vec<Vec<String>>,
}

impl Table {
    fn new(name: &'static str, builtins: &'static [(&'static str, &'static str)]) -> Self {
        Table {
            name,
            builtins,
            user: Vec::new(),
            builtin_rules: vec![Vec::new(); builtins.len()],
        }
    }
    fn builtin(&mut self, chain: &str) -> &mut Vec<String> {
        let i = self
            .builtins
            .iter()
            .position(|(c, _)| *c == chain)
            .expect("builtin chain");
        &mut self.builtin_rules[i]
    }
    fn add_chain(&mut self, name: impl Into<String>) -> usize {
        self.user.push((name.into(), Vec::new()));
        self.user.len() - 1
    }
    fn write(mut self, out: &mut impl Write) -> io::Result<usize> {
        self.user.sort_by(|a, b| a.0.cmp(&b.0));
        let mut n = 0;
        writeln!(
            out,
            "# Generated by iptables-save v1.8.9 (nf_tables) on {STAMP}"
        )?;
        writeln!(out, "*{}", self.name)?;
        for (c, pol) in self.builtins {
            writeln!(out, ":{c} {pol} [0:0]")?;
        }
        for (c, _) in &self.user {
            writeln!(out, ":{c} - [0:0]")?;
        }
        for ((c, _), rules) in self.builtins.iter().zip(&self.builtin_rules) {
            for r in rules {
                writeln!(out, "-A {c} {r}")?;
                n += 1;
            }
        }
        for (c, rules) in &self.user {
            for r in rules {
                writeln!(out, "-A {c} {r}")?;
                n += 1;
            }
        }
        writeln!(out, "COMMIT")?;
        writeln!(out, "# Completed on {STAMP}")?;
        Ok(n)
    }
}

const NAT_BUILTINS: &[(&str, &str)] = &[
    ("PREROUTING", "ACCEPT"),
    ("INPUT", "ACCEPT"),
    ("OUTPUT", "ACCEPT"),
    ("POSTROUTING", "ACCEPT"),
];
const FILTER_BUILTINS_OPEN: &[(&str, &str)] = &[
    ("INPUT", "ACCEPT"),
    ("FORWARD", "ACCEPT"),
    ("OUTPUT", "ACCEPT"),
];
const MANGLE_BUILTINS: &[(&str, &str)] = &[
    ("PREROUTING", "ACCEPT"),
    ("INPUT", "ACCEPT"),
    ("FORWARD", "ACCEPT"),
    ("OUTPUT", "ACCEPT"),
    ("POSTROUTING", "ACCEPT"),
];

// --------------------------------------------------------------------------
// kube mode

const POD_CIDR: &str = "10.244.0.0/16";

const NAMESPACES: &[&str] = &[
    "default",
    "kube-system",
    "monitoring",
    "ingress-nginx",
    "cert-manager",
    "logging",
    "istio-system",
    "argocd",
    "payments",
    "checkout",
    "catalog",
    "search",
    "identity",
    "billing",
    "data-platform",
    "ml-serving",
    "staging",
    "team-alpha",
    "team-bravo",
    "team-charlie",
];
const WORDS_A: &[&str] = &[
    "api",
    "web",
    "auth",
    "user",
    "order",
    "cart",
    "inventory",
    "pricing",
    "notify",
    "report",
    "search",
    "media",
    "session",
    "profile",
    "ledger",
    "invoice",
    "shipping",
    "review",
    "feed",
    "gateway",
    "config",
    "audit",
    "metrics",
    "event",
    "queue",
    "cache",
    "index",
    "export",
];
const WORDS_B: &[&str] = &[
    "service",
    "server",
    "backend",
    "frontend",
    "worker",
    "proxy",
    "svc",
    "api",
    "grpc",
    "http",
    "db",
    "redis",
    "consumer",
    "producer",
    "scheduler",
    "controller",
    "exporter",
];
/// (port name, protocol, service port, target port)
const PORTS: &[(&str, &str, u16, u16)] = &[
    ("", "tcp", 80, 8080),
    ("http", "tcp", 80, 8080),
    ("https", "tcp", 443, 8443),
    ("", "tcp", 8080, 8080),
    ("grpc", "tcp", 9090, 9090),
    ("metrics", "tcp", 9100, 9100),
    ("", "tcp", 443, 443),
    ("http", "tcp", 8000, 8000),
    ("", "tcp", 5432, 5432),
    ("redis", "tcp", 6379, 6379),
    ("", "tcp", 3000, 3000),
    ("dns", "udp", 53, 5353),
    ("statsd", "udp", 8125, 8125),
];

struct Svc {
    /// servicePortName as kube-proxy prints it: "ns/name" or "ns/name:port".
    spn: String,
    proto: &'static str,
    cluster_ip: u32,
    port: u16,
    target_port: u16,
    node_port: Option<u16>,
    /// sorted endpoint IPs
    endpoints: Vec<u32>,
}

fn gen_kube(services: usize, endpoints: usize, seed: u64) -> (Table, Table, Table, usize) {
    let mut rng = Rng::new(seed);
    let mut names = HashSet::new();
    let mut cluster_ips = HashSet::new();
    let mut free_nodeports: Vec<u16> = (30000..=32767).collect();
    let mut svcs: Vec<Svc> = Vec::with_capacity(services);

    // Always start with the usual cluster-addon services.
    let fixed: &[(&str, &str, u32, u16, u16)] = &[
        ("default/kubernetes:https", "tcp", 0x0A60_0001, 443, 6443),
        ("kube-system/kube-dns:dns", "udp", 0x0A60_000A, 53, 53),
        ("kube-system/kube-dns:dns-tcp", "tcp", 0x0A60_000A, 53, 53),
        (
            "kube-system/kube-dns:metrics",
            "tcp",
            0x0A60_000A,
            9153,
            9153,
        ),
    ];
    for &(spn, proto, cip, port, tport) in fixed.iter().take(services) {
        names.insert(spn.to_string());
        cluster_ips.insert(cip);
        svcs.push(Svc {
            spn: spn.to_string(),
            proto,
            cluster_ip: cip,
            port,
            target_port: tport,
            node_port: None,
            endpoints: Vec::new(),
        });
    }
    while svcs.len() < services {
        let ns = *rng.pick(NAMESPACES);
        let base = format!("{}-{}", rng.pick(WORDS_A), rng.pick(WORDS_B));
        let &(pname, proto, port, tport) = rng.pick(PORTS);
        let mut spn;
        let mut k = 0u32;
        loop {
            let name = if k == 0 {
                base.clone()
            } else {
                format!("{base}-{k}")
            };
            spn = if pname.is_empty() {
                format!("{ns}/{name}")
            } else {
                format!("{ns}/{name}:{pname}")
            };
            if names.insert(spn.clone()) {
                break;
            }
            k = if k == 0 {
                1 + rng.below(999) as u32
            } else {
                k + 1
            };
        }
        let cluster_ip = loop {
            // 10.96.0.0/12, avoiding network/broadcast-looking .0/.255
            let a = 0x0A60_0000 | rng.below(1 << 20) as u32;
            if a & 255 != 0 && a & 255 != 255 && cluster_ips.insert(a) {
                break a;
            }
        };
        // ~1/5 are NodePort while the 30000-32767 range lasts (as in a real
        // cluster, it cannot hold more than 2768 node ports).
        let node_port = if proto == "tcp" && !free_nodeports.is_empty() && rng.chance(1, 5) {
            let i = rng.below(free_nodeports.len() as u64) as usize;
            Some(free_nodeports.swap_remove(i))
        } else {
            None
        };
        svcs.push(Svc {
            spn,
            proto,
            cluster_ip,
            port,
            target_port: tport,
            node_port,
            endpoints: Vec::new(),
        });
    }
    // Endpoints: E per service, except ~1 in 50 services (never the
    // first fixed ones) that have none, to exercise the REJECT rules.
    let mut total_eps = 0usize;
    for (i, s) in svcs.iter_mut().enumerate() {
        let n = if i >= fixed.len() && rng.chance(1, 50) {
            0
        } else {
            endpoints
        };
        let mut eps: Vec<u32> = Vec::with_capacity(n);
        if i == 0 && s.spn == "default/kubernetes:https" {
            // apiserver endpoints are control-plane node IPs, not pod IPs
            eps.extend((0..n.min(200) as u32).map(|k| 0xC0A8_000A + k)); // 192.168.0.10+
        } else {
            let mut seen = HashSet::with_capacity(n);
            while eps.len() < n.min(60_000) {
                // 10.244.<node /24>.<2..254>
                let a = 0x0AF4_0000 | (rng.below(256) as u32) << 8 | rng.range(2, 254) as u32;
                if seen.insert(a) {
                    eps.push(a);
                }
            }
        }
        eps.sort_unstable();
        total_eps += eps.len();
        s.endpoints = eps;
    }
    // kube-proxy: largeClusterEndpointsThreshold = 1000
    let large = total_eps > 1000;

    let mut nat = Table::new("nat", NAT_BUILTINS);
    let mut filter = Table::new("filter", FILTER_BUILTINS_OPEN);
    let mut mangle = Table::new("mangle", MANGLE_BUILTINS);
    mangle.add_chain("KUBE-KUBELET-CANARY");
    mangle.add_chain("KUBE-PROXY-CANARY");

    // ---- nat skeleton
    nat.builtin("PREROUTING")
        .push(r#"-m comment --comment "kubernetes service portals" -j KUBE-SERVICES"#.into());
    nat.builtin("OUTPUT")
        .push(r#"-m comment --comment "kubernetes service portals" -j KUBE-SERVICES"#.into());
    nat.builtin("POSTROUTING")
        .push(r#"-m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING"#.into());
    nat.add_chain("KUBE-KUBELET-CANARY");
    nat.add_chain("KUBE-PROXY-CANARY");
    let mark_masq = nat.add_chain("KUBE-MARK-MASQ");
    nat.user[mark_masq]
        .1
        .push("-j MARK --set-xmark 0x4000/0x4000".into()); // --or-mark 0x4000
    let postrouting = nat.add_chain("KUBE-POSTROUTING");
    nat.user[postrouting].1.extend([
        "-m mark ! --mark 0x4000/0x4000 -j RETURN".to_string(),
        "-j MARK --set-xmark 0x4000/0x0".to_string(), // --xor-mark 0x4000
        r#"-m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully"#
            .to_string(),
    ]);
    let nat_nodeports = nat.add_chain("KUBE-NODEPORTS");
    let nat_services = nat.add_chain("KUBE-SERVICES");

    // ---- filter skeleton
    let fw = r#"-m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL"#;
    filter.builtin("INPUT").extend([
        fw.to_string(),
        r#"-m comment --comment "kubernetes health check service ports" -j KUBE-NODEPORTS"#.into(),
        r#"-m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES"#.into(),
        "-j KUBE-FIREWALL".into(),
    ]);
    filter.builtin("FORWARD").extend([
        fw.to_string(),
        r#"-m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD"#.into(),
        r#"-m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES"#.into(),
        r#"-m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES"#.into(),
    ]);
    filter.builtin("OUTPUT").extend([
        fw.to_string(),
        r#"-m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES"#.into(),
        "-j KUBE-FIREWALL".into(),
    ]);
    let f_ext = filter.add_chain("KUBE-EXTERNAL-SERVICES");
    let f_fw = filter.add_chain("KUBE-FIREWALL");
    filter.user[f_fw].1.push(
        r#"! -s 127.0.0.0/8 -d 127.0.0.0/8 -m comment --comment "block incoming localnet connections" -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP"#.into(),
    );
    let f_fwd = filter.add_chain("KUBE-FORWARD");
    filter.user[f_fwd].1.extend([
        r#"-m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT"#.to_string(),
        r#"-m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"#.to_string(),
    ]);
    filter.add_chain("KUBE-KUBELET-CANARY");
    filter.add_chain("KUBE-NODEPORTS");
    filter.add_chain("KUBE-PROXY-CANARY");
    filter.add_chain("KUBE-PROXY-FIREWALL");
    let f_services = filter.add_chain("KUBE-SERVICES");

    // ---- per service
    let mut line = String::new();
    for s in &svcs {
        let spn = &s.spn;
        let proto = s.proto;
        let cip = ip(s.cluster_ip);
        if s.endpoints.is_empty() {
            filter.user[f_services].1.push(format!(
                "-d {cip}/32 -p {proto} -m comment --comment {} -m {proto} --dport {} -j REJECT --reject-with icmp-port-unreachable",
                save_str(&format!("{spn} has no endpoints")),
                s.port
            ));
            if let Some(np) = s.node_port {
                filter.user[f_ext].1.push(format!(
                    "-p {proto} -m comment --comment {} -m addrtype --dst-type LOCAL -m {proto} --dport {np} -j REJECT --reject-with icmp-port-unreachable",
                    save_str(&format!("{spn} has no endpoints")),
                ));
            }
            continue;
        }
        let h = kube_hash(&format!("{spn}{proto}"));
        let svc_chain = format!("KUBE-SVC-{h}");
        let cluster_comment = save_str(&format!("{spn} cluster IP"));
        nat.user[nat_services].1.push(format!(
            "-d {cip}/32 -p {proto} -m comment --comment {cluster_comment} -m {proto} --dport {} -j {svc_chain}",
            s.port
        ));
        if let Some(np) = s.node_port {
            let ext_chain = format!("KUBE-EXT-{h}");
            nat.user[nat_nodeports].1.push(format!(
                "-p {proto} -m comment --comment {} -m {proto} --dport {np} -j {ext_chain}",
                save_str(spn)
            ));
            let e = nat.add_chain(ext_chain);
            nat.user[e].1.push(format!(
                "-m comment --comment {} -j KUBE-MARK-MASQ",
                save_str(&format!(
                    "masquerade traffic for {spn} external destinations"
                ))
            ));
            nat.user[e].1.push(format!("-j {svc_chain}"));
        }
        let sc = nat.add_chain(svc_chain);
        let mut svc_rules = Vec::with_capacity(1 + s.endpoints.len());
        svc_rules.push(format!(
            "! -s {POD_CIDR} -d {cip}/32 -p {proto} -m comment --comment {cluster_comment} -m {proto} --dport {} -j KUBE-MARK-MASQ",
            s.port
        ));
        let n = s.endpoints.len();
        for (i, &ep) in s.endpoints.iter().enumerate() {
            let ep_str = format!("{}:{}", ip(ep), s.target_port);
            let sep_chain = format!("KUBE-SEP-{}", kube_hash(&format!("{spn}{proto}{ep_str}")));
            line.clear();
            if !large {
                let _ = write!(
                    line,
                    "-m comment --comment {} ",
                    save_str(&format!("{spn} -> {ep_str}"))
                );
            }
            if i < n - 1 {
                let _ = write!(
                    line,
                    "-m statistic --mode random --probability {} ",
                    probability(n - i)
                );
            }
            let _ = write!(line, "-j {sep_chain}");
            svc_rules.push(line.clone());

            let comment = if large {
                String::new()
            } else {
                format!("-m comment --comment {} ", save_str(spn))
            };
            let ep_idx = nat.add_chain(sep_chain);
            nat.user[ep_idx]
                .1
                .push(format!("-s {}/32 {comment}-j KUBE-MARK-MASQ", ip(ep)));
            nat.user[ep_idx].1.push(format!(
                "-p {proto} {comment}-m {proto} -j DNAT --to-destination {ep_str}"
            ));
        }
        nat.user[sc].1 = svc_rules;
    }
    nat.user[nat_services].1.push(
        r#"-m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS"#.into(),
    );
    (mangle, filter, nat, total_eps)
}

// --------------------------------------------------------------------------
// flat mode

fn gen_flat(rules: usize, seed: u64) -> Table {
    const BUILTINS: &[(&str, &str)] =
        &[("INPUT", "DROP"), ("FORWARD", "DROP"), ("OUTPUT", "ACCEPT")];
    const PORTS: &[u16] = &[
        22, 25, 53, 80, 110, 143, 443, 465, 587, 993, 995, 1194, 1433, 2049, 3000, 3306, 5000,
        5432, 5672, 6379, 6443, 8000, 8080, 8443, 9000, 9090, 9100, 9200, 11211, 27017,
    ];
    let mut rng = Rng::new(seed);
    let mut t = Table::new("filter", BUILTINS);
    let logdrop = t.add_chain("LOGDROP");
    t.user[logdrop].1.extend([
        r#"-m limit --limit 5/min --limit-burst 10 -j LOG --log-prefix "iptables-drop: ""#
            .to_string(),
        "-j DROP".to_string(),
    ]);
    let ssh = t.add_chain("SSH-BRUTEFORCE");
    t.user[ssh].1.extend([
        "-m conntrack --ctstate NEW -m limit --limit 6/min --limit-burst 6 -j RETURN".to_string(),
        "-j LOGDROP".to_string(),
    ]);
    let icmp = t.add_chain("ICMP-IN");
    t.user[icmp].1.extend([
        "-p icmp -m icmp --icmp-type 0 -j ACCEPT".to_string(),
        "-p icmp -m icmp --icmp-type 3 -j ACCEPT".to_string(),
        "-p icmp -m icmp --icmp-type 11 -j ACCEPT".to_string(),
        "-p icmp -m icmp --icmp-type 8 -m limit --limit 10/sec -j ACCEPT".to_string(),
        "-j DROP".to_string(),
    ]);

    let input = t.builtin("INPUT");
    input.extend([
        "-i lo -j ACCEPT".to_string(),
        "-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT".to_string(),
        "-m conntrack --ctstate INVALID -j DROP".to_string(),
        "-s 127.0.0.0/8 ! -i lo -j DROP".to_string(),
        "-p icmp -j ICMP-IN".to_string(),
        "-p tcp -m tcp --dport 22 -j SSH-BRUTEFORCE".to_string(),
    ]);
    let mut seen = HashSet::with_capacity(rules);
    let mut n = 0;
    while n < rules {
        // Random unicast address outside 0/8, 10/8, 127/8, 169.254/16,
        // 224/3 and with a host part that is not .0 or .255.
        let a = rng.next_u64() as u32;
        let o1 = a >> 24;
        let o4 = a & 255;
        if matches!(o1, 0 | 10 | 127) || o1 >= 224 || (a >> 16) == 0xA9FE || o4 == 0 || o4 == 255 {
            continue;
        }
        let port = if rng.chance(3, 4) {
            *rng.pick(PORTS)
        } else {
            rng.range(1024, 65535) as u16
        };
        if !seen.insert((a, port)) {
            continue;
        }
        let verdict = if rng.chance(7, 10) { "ACCEPT" } else { "DROP" };
        input.push(format!(
            "-s {}/32 -p tcp -m tcp --dport {port} -j {verdict}",
            ip(a)
        ));
        n += 1;
    }
    input.push("-j LOGDROP".to_string());

    t.builtin("FORWARD").push("-j LOGDROP".to_string());
    t.builtin("OUTPUT").push("-o lo -j ACCEPT".to_string());
    t
}

// --------------------------------------------------------------------------
// CLI

const USAGE: &str = "\
usage:
  gen-dump kube --services N --endpoints E [--seed S]
  gen-dump flat --rules N [--seed S]

Writes a realistic iptables-save dump to stdout; the same arguments always
give byte-identical output (default --seed 1). A rule count summary goes to
stderr.";

fn die(msg: &str) -> ! {
    eprintln!("gen-dump: {msg}\n\n{USAGE}");
    exit(2)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() || args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return;
    }
    let mode = args[0].as_str();
    let mut services = None;
    let mut endpoints = None;
    let mut rules = None;
    let mut seed = 1u64;
    let mut it = args[1..].iter();
    while let Some(a) = it.next() {
        let (key, inline) = match a.split_once('=') {
            Some((k, v)) => (k, Some(v.to_string())),
            None => (a.as_str(), None),
        };
        let mut val = || -> u64 {
            let v = inline
                .clone()
                .or_else(|| it.next().cloned())
                .unwrap_or_else(|| die(&format!("{key} needs a value")));
            v.replace('_', "")
                .parse()
                .unwrap_or_else(|_| die(&format!("{key}: not a non-negative integer: {v}")))
        };
        match key {
            "--services" => services = Some(val() as usize),
            "--endpoints" => endpoints = Some(val() as usize),
            "--rules" => rules = Some(val() as usize),
            "--seed" => seed = val(),
            _ => die(&format!("unknown argument {a:?}")),
        }
    }
    let stdout = io::stdout();
    let mut out = io::BufWriter::with_capacity(1 << 20, stdout.lock());
    let res = match mode {
        "kube" => {
            if rules.is_some() {
                die("--rules is for flat mode");
            }
            let services = services.unwrap_or_else(|| die("kube needs --services N"));
            let endpoints = endpoints.unwrap_or_else(|| die("kube needs --endpoints E"));
            let (mangle, filter, nat, eps) = gen_kube(services, endpoints, seed);
            (|| -> io::Result<()> {
                let n = mangle.write(&mut out)? + filter.write(&mut out)? + nat.write(&mut out)?;
                out.flush()?;
                eprintln!(
                    "gen-dump: kube services={services} endpoints/service={endpoints} total-endpoints={eps} large-cluster-mode={} seed={seed} rules={n}",
                    eps > 1000
                );
                Ok(())
            })()
        }
        "flat" => {
            if services.is_some() || endpoints.is_some() {
                die("--services/--endpoints are for kube mode");
            }
            let rules = rules.unwrap_or_else(|| die("flat needs --rules N"));
            let t = gen_flat(rules, seed);
            (|| -> io::Result<()> {
                let n = t.write(&mut out)?;
                out.flush()?;
                eprintln!("gen-dump: flat rules={rules} seed={seed} total-rules={n}");
                Ok(())
            })()
        }
        m => die(&format!("unknown mode {m:?} (expected kube or flat)")),
    };
    if let Err(e) = res {
        if e.kind() == io::ErrorKind::BrokenPipe {
            exit(0);
        }
        eprintln!("gen-dump: write error: {e}");
        exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_known_vectors() {
        let hex = |d: [u8; 32]| d.iter().map(|b| format!("{b:02x}")).collect::<String>();
        assert_eq!(
            hex(sha256(b"")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            hex(sha256(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn probabilities_match_iptables_save() {
        assert_eq!(probability(2), "0.50000000000");
        assert_eq!(probability(3), "0.33333333349");
        assert_eq!(probability(4), "0.25000000000");
    }

    #[test]
    fn kube_proxy_chain_names() {
        // well-known chain names from real clusters
        assert_eq!(kube_hash("default/kubernetes:httpstcp"), "NPX46M4PTMTKRN6Y");
        assert_eq!(kube_hash("kube-system/kube-dns:dnsudp"), "TCOU7JCQXEZGVUNU");
        assert_eq!(
            kube_hash("kube-system/kube-dns:dns-tcptcp"),
            "ERIFXISQEP7F7OF4"
        );
        assert_eq!(
            kube_hash("kube-system/kube-dns:metricstcp"),
            "JD5MR3NA4I4DYORP"
        );
    }

    #[test]
    fn quoting() {
        assert_eq!(save_str("abc-1_2"), "abc-1_2");
        assert_eq!(save_str("ns/svc:p"), "\"ns/svc:p\"");
    }
}
