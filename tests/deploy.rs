//! The deployment material under `deploy/`, checked as data (no container engine is
//! needed): the Compose stack, the Kubernetes manifests, the Dockerfile, the Prometheus
//! configuration and alert rules, the Grafana dashboard and the runbook. The checks tie
//! the files to each other (probe ports to Service ports, scrape targets to Compose
//! services, runbook links to headings) and to the code (every metric name is one that
//! `otpgw::metrics::NAMES` lists; the configuration they carry loads and validates with
//! the gateway's own loader). `promtool` (Debian package `prometheus`) checks the rules,
//! runs their unit tests and parses every dashboard expression.

use serde_json::Value as Json;
use serde_yaml_ng::Value as Yaml;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

// ------------------------------------------------------------------ helpers

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn path(rel: &str) -> PathBuf {
    root().join(rel)
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(path(rel)).unwrap_or_else(|e| panic!("cannot read {rel}: {e}"))
}

/// One YAML document, with `<<` merge keys applied (Compose uses them).
fn yaml(rel: &str) -> Yaml {
    let mut v: Yaml =
        serde_yaml_ng::from_str(&read(rel)).unwrap_or_else(|e| panic!("{rel} is not YAML: {e}"));
    v.apply_merge()
        .unwrap_or_else(|e| panic!("{rel}: bad merge key: {e}"));
    v
}

/// Every document of a multi-document YAML file (empty documents skipped).
fn yaml_docs(rel: &str) -> Vec<Yaml> {
    use serde::Deserialize;
    let text = read(rel);
    let mut docs = Vec::new();
    for (i, doc) in serde_yaml_ng::Deserializer::from_str(&text).enumerate() {
        let v = Yaml::deserialize(doc).unwrap_or_else(|e| panic!("{rel}, document {i}: {e}"));
        if !v.is_null() {
            docs.push(v);
        }
    }
    docs
}

fn json(rel: &str) -> Json {
    serde_json::from_str(&read(rel)).unwrap_or_else(|e| panic!("{rel} is not JSON: {e}"))
}

/// A string field, or a panic naming what is missing.
fn s<'a>(v: &'a Yaml, what: &str) -> &'a str {
    v.as_str()
        .unwrap_or_else(|| panic!("{what} is missing or not a string: {v:?}"))
}

fn seq<'a>(v: &'a Yaml, what: &str) -> &'a [Yaml] {
    v.as_sequence()
        .map(|s| s.as_slice())
        .unwrap_or_else(|| panic!("{what} is missing or not a list: {v:?}"))
}

/// `otpgw_…` tokens of a PromQL expression (names only: `otpgw:…` recording rules and
/// label values without the underscore are not metric names of the gateway).
fn metric_tokens(expr: &str) -> Vec<String> {
    let b = expr.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(at) = expr[i..].find("otpgw_") {
        let start = i + at;
        let boundary = start == 0 || {
            let c = b[start - 1];
            !(c.is_ascii_alphanumeric() || c == b'_' || c == b':')
        };
        let mut end = start + "otpgw_".len();
        while end < b.len() && (b[end].is_ascii_lowercase() || b[end] == b'_') {
            end += 1;
        }
        if boundary {
            out.push(expr[start..end].to_string());
        }
        i = end;
    }
    out
}

/// `# TYPE` of every series a fresh registry renders (series without labels; labelled
/// ones appear only once used).
fn rendered_types() -> &'static BTreeMap<String, String> {
    static TYPES: OnceLock<BTreeMap<String, String>> = OnceLock::new();
    TYPES.get_or_init(|| {
        otpgw::metrics::Metrics::new()
            .render()
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .filter_map(|l| {
                let (name, kind) = l.split_once(' ')?;
                Some((name.to_string(), kind.trim().to_string()))
            })
            .collect()
    })
}

/// The listed series a token refers to: itself, or a histogram's `_bucket`/`_sum`/`_count`
/// (not of a counter, nor of a series the registry renders as another type).
fn known_metric(token: &str) -> Option<&'static str> {
    let names = otpgw::metrics::NAMES;
    if let Some(n) = names.iter().find(|n| **n == token) {
        return Some(n);
    }
    ["_bucket", "_sum", "_count"].iter().find_map(|suffix| {
        let base = token.strip_suffix(suffix)?;
        let histogram = !base.ends_with("_total")
            && rendered_types()
                .get(base)
                .is_none_or(|kind| kind == "histogram");
        names.iter().find(|n| **n == base && histogram).copied()
    })
}

/// Panics listing every token of `expr` that is not a listed series.
fn assert_known_metrics(expr: &str, what: &str) -> Vec<&'static str> {
    let mut found = Vec::new();
    let mut unknown = Vec::new();
    for t in metric_tokens(expr) {
        match known_metric(&t) {
            Some(n) => found.push(n),
            None => unknown.push(t),
        }
    }
    assert!(
        unknown.is_empty(),
        "{what} uses {unknown:?}, which otpgw::metrics::NAMES does not list; expression: {expr}"
    );
    found
}

/// Runs promtool; a missing promtool fails the test with what to install.
fn promtool(args: &[&str]) -> (bool, String) {
    let out = Command::new("promtool")
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "promtool could not be run ({e}). It checks the Prometheus rules and \
                 configuration: install the Debian package `prometheus` \
                 (apt-get install -y prometheus), as .ci/run does when it is missing"
            )
        });
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// `(level, text)` of every Markdown heading outside code fences.
fn headings(md: &str) -> Vec<(usize, String)> {
    let mut fenced = false;
    let mut out = Vec::new();
    for line in md.lines() {
        let t = line.trim_start();
        if t.starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced || !line.starts_with('#') {
            continue;
        }
        let level = line.chars().take_while(|c| *c == '#').count();
        if let Some(text) = line[level..].strip_prefix(' ') {
            out.push((level, text.trim().to_string()));
        }
    }
    out
}

/// Port of a `host:port` address.
fn port_of(addr: &str) -> u16 {
    addr.rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {addr:?}"))
}

/// Dockerfile instructions `(KEYWORD, arguments)`, continuation lines joined, comments
/// dropped.
fn dockerfile() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for line in read("deploy/Dockerfile").lines() {
        let t = line.trim();
        if cur.is_empty() && (t.is_empty() || t.starts_with('#')) {
            continue;
        }
        if let Some(part) = t.strip_suffix('\\') {
            cur.push_str(part);
            cur.push(' ');
            continue;
        }
        cur.push_str(t);
        let (kw, rest) = cur
            .split_once(char::is_whitespace)
            .unwrap_or((cur.as_str(), ""));
        out.push((kw.to_uppercase(), rest.trim().to_string()));
        cur.clear();
    }
    assert!(
        cur.is_empty(),
        "the Dockerfile ends inside a continued line"
    );
    out
}

/// The production configuration the Kubernetes ConfigMap carries.
fn configmap_toml() -> String {
    let docs = yaml_docs("deploy/kubernetes/configmap.yaml");
    let cm = docs
        .iter()
        .find(|d| d["metadata"]["name"] == "otpgw-config")
        .expect("a ConfigMap named otpgw-config");
    s(&cm["data"]["otpgw.toml"], "otpgw-config data otpgw.toml").to_string()
}

fn k8s_docs() -> Vec<(String, Yaml)> {
    let dir = path("deploy/kubernetes");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("deploy/kubernetes")
        .map(|e| e.unwrap().path())
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let rel = format!(
            "deploy/kubernetes/{}",
            f.file_name().unwrap().to_string_lossy()
        );
        for d in yaml_docs(&rel) {
            out.push((rel.clone(), d));
        }
    }
    out
}

fn k8s_one(kind: &str) -> Yaml {
    let all: Vec<Yaml> = k8s_docs()
        .into_iter()
        .map(|(_, d)| d)
        .filter(|d| d["kind"] == kind)
        .collect();
    assert_eq!(all.len(), 1, "expected exactly one {kind}");
    all.into_iter().next().unwrap()
}

/// Loads `toml` as the gateway would with `env` set (its own loader, in a jail so the
/// process environment is restored), and returns `problems()`.
#[allow(clippy::result_large_err)] // figment's Jail closure returns figment's large error
fn config_problems(toml: &str, env: &[(String, String)], files: &[(&str, &str)]) -> Vec<String> {
    let mut problems = Vec::new();
    figment::Jail::expect_with(|jail| {
        for (name, text) in files {
            jail.create_file(name, text)?;
        }
        jail.create_file("otpgw.toml", toml)?;
        for (k, v) in env {
            jail.set_env(k, v);
        }
        let file = jail.directory().join("otpgw.toml");
        let cfg = otpgw::Config::load(Some(file.as_path())).map_err(|e| e.to_string())?;
        problems = otpgw::config::problems(&cfg);
        Ok(())
    });
    problems
}

const REAL_SECRET: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn only_secret_problem(problems: &[String], what: &str) {
    assert!(
        problems.len() == 1 && problems[0].contains("server secret"),
        "{what}: the placeholder secret must be the one problem (so it fails closed and \
         nothing else is wrong), got {problems:?}"
    );
}

// ------------------------------------------------------------------ Compose

fn compose_gateways(c: &Yaml) -> Vec<(String, Yaml)> {
    c["services"]
        .as_mapping()
        .expect("services")
        .iter()
        .filter(|(_, svc)| svc["build"]["dockerfile"] == "deploy/Dockerfile")
        .map(|(k, v)| (s(k, "service name").to_string(), v.clone()))
        .collect()
}

#[test]
fn compose_runs_two_gateways_on_one_redis_with_prometheus_and_grafana() {
    let c = yaml("deploy/docker-compose.yml");
    let services = c["services"].as_mapping().expect("services");
    for name in ["redis", "prometheus", "grafana"] {
        assert!(services.contains_key(name), "no {name} service");
    }
    let gateways = compose_gateways(&c);
    assert!(
        gateways.len() >= 2,
        "want at least two gateway services built from deploy/Dockerfile, got {:?}",
        gateways.iter().map(|g| &g.0).collect::<Vec<_>>()
    );
    for (name, svc) in services {
        let name = s(name, "service name");
        let test: Vec<&str> = seq(&svc["healthcheck"]["test"], &format!("{name} healthcheck"))
            .iter()
            .map(|t| s(t, "healthcheck word"))
            .collect();
        assert!(test.len() > 1, "{name}: empty healthcheck");
        for p in svc["ports"].as_sequence().into_iter().flatten() {
            assert!(
                s(p, "port").starts_with("127.0.0.1:"),
                "{name} publishes {p:?} beyond loopback"
            );
        }
    }
    for (name, g) in &gateways {
        let test: Vec<&str> = seq(&g["healthcheck"]["test"], "healthcheck")
            .iter()
            .map(|t| s(t, "word"))
            .collect();
        assert_eq!(test, ["CMD", "otpgw", "healthcheck"], "{name} healthcheck");
        assert_eq!(
            g["depends_on"]["redis"]["condition"], "service_healthy",
            "{name} waits for a healthy redis"
        );
        let redis = url::Url::parse(s(
            &g["environment"]["OTPGW_STORE__REDIS__URL"],
            "OTPGW_STORE__REDIS__URL",
        ))
        .unwrap();
        assert_eq!(
            redis.host_str(),
            Some("redis"),
            "{name} shares the redis service"
        );
        assert_eq!(
            g["read_only"], true,
            "{name} has a read-only root filesystem"
        );
        assert!(
            seq(&g["secrets"], "secrets").iter().any(|x| x == "otpgw"),
            "{name} gets the otpgw secret"
        );
    }
    // The gateways publish distinct host ports.
    let mut host_ports = BTreeSet::new();
    for (_, g) in &gateways {
        for p in seq(&g["ports"], "ports") {
            assert!(host_ports.insert(s(p, "port").to_string()), "{p:?} twice");
        }
    }
    assert_eq!(
        c["services"]["grafana"]["depends_on"]["prometheus"]["condition"],
        "service_healthy"
    );
    let secret = s(&c["secrets"]["otpgw"]["file"], "secrets.otpgw.file");
    assert!(
        path("deploy").join(secret).is_file(),
        "secret file {secret} missing"
    );
}

#[test]
fn compose_gateway_config_loads_and_its_placeholder_secret_fails_closed() {
    let c = yaml("deploy/docker-compose.yml");
    let placeholder = read("deploy/secrets/otpgw");
    let example = read("config/production.example.toml");
    for (name, g) in compose_gateways(&c) {
        let mut env: Vec<(String, String)> = g["environment"]
            .as_mapping()
            .expect("environment map")
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    Yaml::String(s) => s.clone(),
                    other => serde_yaml_ng::to_string(other).unwrap().trim().to_string(),
                };
                assert!(!v.contains("${"), "{name}: interpolated {v}");
                (s(k, "env name").to_string(), v)
            })
            .collect();
        // The Compose secret is mounted where secret_file points; here it is a file in the
        // jail.
        env.push(("OTPGW_SECRET_FILE".into(), "secret".into()));
        let problems = config_problems(&example, &env, &[("secret", &placeholder)]);
        only_secret_problem(&problems, &name);
        let real = format!("{REAL_SECRET}\n");
        let problems = config_problems(&example, &env, &[("secret", &real)]);
        assert_eq!(problems, Vec::<String>::new(), "{name} with a real secret");
    }
    assert!(
        example.contains("secret_file = \"/run/secrets/otpgw\""),
        "the image's config reads the secret where Compose mounts it"
    );
}

#[test]
fn prometheus_scrapes_every_compose_gateway_and_grafana_is_provisioned() {
    let c = yaml("deploy/docker-compose.yml");
    let http_port = port_of(
        toml::from_str::<toml::Value>(&read("config/production.example.toml")).unwrap()["server"]
            ["listen"]
            .as_str()
            .unwrap(),
    );
    let want: BTreeSet<String> = compose_gateways(&c)
        .into_iter()
        .map(|(n, _)| format!("{n}:{http_port}"))
        .collect();
    let p = yaml("deploy/prometheus/prometheus.yml");
    let job = seq(&p["scrape_configs"], "scrape_configs")
        .iter()
        .find(|j| j["job_name"] == "otpgw")
        .expect("a scrape job named otpgw (the alerts select job=\"otpgw\")");
    assert_eq!(job["metrics_path"], "/metrics");
    let got: BTreeSet<String> = seq(&job["static_configs"], "static_configs")
        .iter()
        .flat_map(|sc| seq(&sc["targets"], "targets").iter())
        .map(|t| s(t, "target").to_string())
        .collect();
    assert_eq!(got, want, "scrape targets vs gateway services");
    let rules: Vec<&str> = seq(&p["rule_files"], "rule_files")
        .iter()
        .map(|r| s(r, "rule file"))
        .collect();
    assert!(rules.contains(&"alerts.yml"), "alerts.yml is loaded");

    let prom = &c["services"]["prometheus"];
    let vols: Vec<&str> = seq(&prom["volumes"], "volumes")
        .iter()
        .map(|v| s(v, "volume"))
        .collect();
    assert!(
        vols.contains(&"./prometheus:/etc/prometheus:ro"),
        "{vols:?}"
    );
    assert!(seq(&prom["command"], "command")
        .iter()
        .any(|a| a == "--config.file=/etc/prometheus/prometheus.yml"));

    let graf = &c["services"]["grafana"];
    let vols: Vec<(String, String)> = seq(&graf["volumes"], "volumes")
        .iter()
        .map(|v| {
            let mut parts = s(v, "volume").split(':');
            (
                parts.next().unwrap().to_string(),
                parts.next().unwrap_or("").to_string(),
            )
        })
        .collect();
    let mount = |src: &str| {
        vols.iter()
            .find(|(s, _)| s == src)
            .map(|(_, t)| t.clone())
            .unwrap_or_else(|| panic!("grafana does not mount {src}"))
    };
    assert_eq!(mount("./grafana/provisioning"), "/etc/grafana/provisioning");
    let dash_target = mount("./grafana/otpgw-dashboard.json");
    let providers = yaml("deploy/grafana/provisioning/dashboards/otpgw.yml");
    let dir = s(
        &seq(&providers["providers"], "providers")[0]["options"]["path"],
        "provider path",
    );
    assert_eq!(
        Path::new(&dash_target).parent().unwrap(),
        Path::new(dir),
        "the dashboard provider reads the folder the dashboard is mounted in"
    );
    let ds = yaml("deploy/grafana/provisioning/datasources/prometheus.yml");
    let ds = &seq(&ds["datasources"], "datasources")[0];
    assert_eq!(ds["type"], "prometheus");
    let u = url::Url::parse(s(&ds["url"], "datasource url")).unwrap();
    assert_eq!(u.host_str(), Some("prometheus"));
    assert_eq!(u.port(), Some(9090));
}

// ------------------------------------------------------------------ Kubernetes

#[test]
fn kubernetes_manifests_parse_and_hold_every_kind() {
    let docs = k8s_docs();
    let kinds: BTreeSet<&str> = docs.iter().map(|(_, d)| s(&d["kind"], "kind")).collect();
    for kind in [
        "Deployment",
        "Service",
        "ConfigMap",
        "Secret",
        "PodDisruptionBudget",
        "HorizontalPodAutoscaler",
    ] {
        assert!(
            kinds.contains(kind),
            "no {kind} in deploy/kubernetes ({kinds:?})"
        );
    }
    for (file, d) in &docs {
        s(&d["apiVersion"], &format!("{file}: apiVersion"));
        if d["kind"] != "Kustomization" {
            s(&d["metadata"]["name"], &format!("{file}: metadata.name"));
        }
    }
    // The kustomization applies every manifest except the example Secret.
    let k = yaml("deploy/kubernetes/kustomization.yaml");
    let listed: BTreeSet<&str> = seq(&k["resources"], "resources")
        .iter()
        .map(|r| s(r, "resource"))
        .collect();
    let files: BTreeSet<String> = docs
        .iter()
        .map(|(f, _)| f.trim_start_matches("deploy/kubernetes/").to_string())
        .filter(|f| f != "kustomization.yaml" && f != "secret.example.yaml")
        .collect();
    let files: BTreeSet<&str> = files.iter().map(String::as_str).collect();
    assert_eq!(listed, files, "kustomization resources");
    // The example Secret holds placeholders only.
    let secret = k8s_one("Secret");
    for (k, v) in secret["stringData"].as_mapping().expect("stringData") {
        assert!(
            s(v, "value").contains("CHANGE_ME"),
            "Secret key {k:?} must hold an obvious placeholder"
        );
    }
}

#[test]
fn kubernetes_probes_and_ports_match_the_service_and_the_config() {
    let dep = k8s_one("Deployment");
    let svc = k8s_one("Service");
    let cfg: toml::Value = toml::from_str(&configmap_toml()).unwrap();
    let http = port_of(cfg["server"]["listen"].as_str().unwrap());
    let grpc = port_of(cfg["grpc"]["listen"].as_str().unwrap());
    assert_eq!(dep["spec"]["replicas"], 2);

    let pod = &dep["spec"]["template"];
    let labels = pod["metadata"]["labels"].as_mapping().expect("pod labels");
    for (what, selector) in [
        (
            "Deployment selector",
            &dep["spec"]["selector"]["matchLabels"],
        ),
        ("Service selector", &svc["spec"]["selector"]),
        (
            "PodDisruptionBudget selector",
            &k8s_one("PodDisruptionBudget")["spec"]["selector"]["matchLabels"],
        ),
    ] {
        for (k, v) in selector.as_mapping().expect(what) {
            assert_eq!(
                labels.get(k),
                Some(v),
                "{what} {k:?} does not match the pod"
            );
        }
    }
    let containers = seq(&pod["spec"]["containers"], "containers");
    assert_eq!(containers.len(), 1);
    let c = &containers[0];
    let ports: Vec<(String, u64)> = seq(&c["ports"], "container ports")
        .iter()
        .map(|p| {
            (
                s(&p["name"], "port name").to_string(),
                p["containerPort"].as_u64().expect("containerPort"),
            )
        })
        .collect();
    let resolve = |port: &Yaml| -> u64 {
        match port {
            Yaml::Number(n) => n.as_u64().unwrap(),
            Yaml::String(name) => {
                ports
                    .iter()
                    .find(|(n, _)| n == name)
                    .unwrap_or_else(|| panic!("no container port named {name}"))
                    .1
            }
            other => panic!("bad port {other:?}"),
        }
    };
    assert!(ports.contains(&("http".into(), http.into())), "{ports:?}");
    assert!(ports.contains(&("grpc".into(), grpc.into())), "{ports:?}");
    for (probe, path) in [("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")] {
        let get = &c[probe]["httpGet"];
        assert_eq!(get["path"], path, "{probe} path");
        assert_eq!(resolve(&get["port"]), u64::from(http), "{probe} port");
    }
    let svc_ports = seq(&svc["spec"]["ports"], "service ports");
    for (name, want) in [("http", http), ("grpc", grpc)] {
        let p = svc_ports
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("Service has no {name} port"));
        assert_eq!(p["port"].as_u64(), Some(u64::from(want)), "Service {name}");
        assert_eq!(resolve(&p["targetPort"]), u64::from(want), "{name} target");
    }
    let hpa = k8s_one("HorizontalPodAutoscaler");
    assert_eq!(hpa["spec"]["scaleTargetRef"]["kind"], "Deployment");
    assert_eq!(
        hpa["spec"]["scaleTargetRef"]["name"],
        dep["metadata"]["name"]
    );
    let metrics = seq(&hpa["spec"]["metrics"], "hpa metrics");
    assert!(metrics.iter().any(|m| m["resource"]["name"] == "cpu"));
    assert!(
        c["resources"]["requests"]["cpu"].as_str().is_some(),
        "a CPU request (the HPA scales relative to it)"
    );
    assert!(c["resources"]["limits"]["memory"].as_str().is_some());

    // Configuration: the file from the ConfigMap at the path serve reads, env from the
    // ConfigMap and the Secret.
    let args: Vec<&str> = seq(&c["args"], "args")
        .iter()
        .map(|a| s(a, "arg"))
        .collect();
    assert_eq!(args, ["serve", "--config", "/etc/otpgw/otpgw.toml"]);
    let mount = seq(&c["volumeMounts"], "volumeMounts")
        .iter()
        .find(|m| m["mountPath"] == "/etc/otpgw")
        .expect("config mounted at /etc/otpgw");
    let vol = seq(&pod["spec"]["volumes"], "volumes")
        .iter()
        .find(|v| v["name"] == mount["name"])
        .expect("the config volume");
    assert_eq!(vol["configMap"]["name"], "otpgw-config");
    let from: Vec<(&str, &str)> = seq(&c["envFrom"], "envFrom")
        .iter()
        .map(|e| {
            if let Some(n) = e["configMapRef"]["name"].as_str() {
                ("ConfigMap", n)
            } else {
                ("Secret", s(&e["secretRef"]["name"], "secretRef"))
            }
        })
        .collect();
    let names: Vec<(String, String)> = k8s_docs()
        .into_iter()
        .map(|(_, d)| {
            (
                s(&d["kind"], "kind").to_string(),
                d["metadata"]["name"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert!(
        from.iter().any(|(k, _)| *k == "ConfigMap"),
        "env from a ConfigMap"
    );
    assert!(
        from.iter().any(|(k, _)| *k == "Secret"),
        "env from a Secret"
    );
    for (kind, name) in from {
        assert!(
            names.contains(&(kind.to_string(), name.to_string())),
            "envFrom names {kind} {name}, which deploy/kubernetes does not define"
        );
    }
}

#[test]
fn kubernetes_pod_is_locked_down_and_its_grace_period_covers_the_drain() {
    let dep = k8s_one("Deployment");
    let spec = &dep["spec"]["template"]["spec"];
    let c = &seq(&spec["containers"], "containers")[0];
    assert_eq!(spec["securityContext"]["runAsNonRoot"], true);
    let uid = spec["securityContext"]["runAsUser"]
        .as_u64()
        .expect("runAsUser");
    assert_ne!(uid, 0);
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(c["securityContext"]["allowPrivilegeEscalation"], false);
    assert!(seq(&c["securityContext"]["capabilities"]["drop"], "drop")
        .iter()
        .any(|x| x == "ALL"));
    // Service links would inject OTPGW_PORT etc., which the config loader rejects.
    assert_eq!(
        spec["enableServiceLinks"], false,
        "enableServiceLinks must be false: the Service is named otpgw"
    );
    // The image's user is the one the pod asserts.
    let user = dockerfile()
        .into_iter()
        .rfind(|(k, _)| k == "USER")
        .expect("USER")
        .1;
    assert_eq!(
        user.split(':').next().unwrap().parse::<u64>().ok(),
        Some(uid),
        "Dockerfile USER vs runAsUser"
    );

    // terminationGracePeriodSeconds > preStop sleep + HTTP grace + gRPC grace + queue
    // drain (see deploy/README.md).
    let cfg: toml::Value = toml::from_str(&configmap_toml()).unwrap();
    let grace = cfg["server"]["shutdown_grace_ms"].as_integer().unwrap() as u64;
    let drain = cfg["delivery"]["shutdown_deadline_ms"]
        .as_integer()
        .unwrap() as u64;
    let pre_stop: Vec<&str> = seq(&c["lifecycle"]["preStop"]["exec"]["command"], "preStop")
        .iter()
        .map(|a| s(a, "preStop word"))
        .collect();
    assert_eq!(pre_stop[0], "sleep");
    let sleep_ms = pre_stop[1].parse::<u64>().unwrap() * 1000;
    let period_ms = spec["terminationGracePeriodSeconds"]
        .as_u64()
        .expect("terminationGracePeriodSeconds")
        * 1000;
    assert!(
        period_ms > sleep_ms + 2 * grace + drain,
        "terminationGracePeriodSeconds ({period_ms} ms) must exceed preStop ({sleep_ms}) + \
         2 x shutdown_grace_ms ({grace}) + shutdown_deadline_ms ({drain})"
    );
    let pdb = k8s_one("PodDisruptionBudget");
    assert!(pdb["spec"]["minAvailable"].as_u64().unwrap_or(0) >= 1);
}

#[test]
fn kubernetes_config_is_the_production_example_and_loads_with_its_environment() {
    let toml = configmap_toml();
    assert_eq!(
        toml,
        read("config/production.example.toml"),
        "the otpgw-config ConfigMap drifted from config/production.example.toml"
    );
    let mut env: Vec<(String, String)> = Vec::new();
    for (_, d) in k8s_docs() {
        let data = match s(&d["kind"], "kind") {
            "ConfigMap" if d["metadata"]["name"] == "otpgw-env" => &d["data"],
            "Secret" => &d["stringData"],
            _ => continue,
        };
        for (k, v) in data.as_mapping().expect("data") {
            env.push((s(k, "key").to_string(), s(v, "value").to_string()));
        }
    }
    assert!(env.iter().any(|(k, _)| k == "OTPGW_SECRET"));
    only_secret_problem(&config_problems(&toml, &env, &[]), "Kubernetes");
    for (k, v) in env.iter_mut() {
        if k == "OTPGW_SECRET" {
            *v = REAL_SECRET.into();
        }
    }
    assert_eq!(
        config_problems(&toml, &env, &[]),
        Vec::<String>::new(),
        "Kubernetes config with a real secret"
    );
    // The Redis Cluster form documented in deploy/README.md loads too.
    let readme = read("deploy/README.md");
    let line = readme
        .lines()
        .find_map(|l| l.trim().strip_prefix("OTPGW_STORE__REDIS__CLUSTER_NODES: "))
        .expect("the README shows OTPGW_STORE__REDIS__CLUSTER_NODES");
    let nodes: String = serde_yaml_ng::from_str(line).unwrap();
    env.push(("OTPGW_STORE__REDIS__CLUSTER_NODES".into(), nodes));
    assert_eq!(config_problems(&toml, &env, &[]), Vec::<String>::new());
}

// ------------------------------------------------------------------ Dockerfile

#[test]
fn dockerfile_is_multi_stage_non_root_with_the_healthcheck() {
    let ins = dockerfile();
    let froms: Vec<&str> = ins
        .iter()
        .filter(|(k, _)| k == "FROM")
        .map(|(_, a)| a.as_str())
        .collect();
    assert_eq!(
        froms,
        [
            "rust:1-bookworm AS builder",
            "debian:bookworm-slim AS runtime"
        ],
        "multi-stage FROM lines"
    );
    let runtime_at = ins
        .iter()
        .rposition(|(k, _)| k == "FROM")
        .expect("a final stage");
    let runtime = &ins[runtime_at..];
    let builder = &ins[..runtime_at];

    // Dependencies are built before the sources are copied in.
    let first_build = builder
        .iter()
        .position(|(k, a)| k == "RUN" && a.contains("cargo build"))
        .expect("a cargo build");
    let copy_src = builder
        .iter()
        .position(|(k, a)| k == "COPY" && a.starts_with("src "))
        .expect("COPY src");
    assert!(first_build < copy_src, "no cached dependency layer");
    assert!(builder[first_build].1.contains("--locked"));

    // Runtime: ca-certificates only, the binary and the config where documented.
    let installs: Vec<&str> = runtime
        .iter()
        .filter(|(k, a)| k == "RUN" && a.contains("apt-get install"))
        .flat_map(|(_, a)| {
            a.split("apt-get install")
                .nth(1)
                .unwrap()
                .split("&&")
                .next()
                .unwrap()
                .split_whitespace()
                .filter(|w| !w.starts_with('-'))
        })
        .collect();
    assert_eq!(installs, ["ca-certificates"], "runtime packages");
    let copies: Vec<&str> = runtime
        .iter()
        .filter(|(k, _)| k == "COPY")
        .map(|(_, a)| a.as_str())
        .collect();
    assert!(copies.contains(&"--from=builder /usr/local/bin/otpgw /usr/local/bin/otpgw"));
    assert!(copies.contains(&"config/production.example.toml /etc/otpgw/otpgw.toml"));

    let user = &runtime
        .iter()
        .rfind(|(k, _)| k == "USER")
        .expect("a USER in the runtime stage")
        .1;
    let name = user.split(':').next().unwrap();
    assert!(name != "root" && name != "0", "runs as root: USER {user}");
    let last_user_at = ins.iter().rposition(|(k, _)| k == "USER").unwrap();
    assert!(
        !ins[last_user_at..].iter().any(|(k, _)| k == "RUN"),
        "no RUN after the final USER"
    );

    let exec_form = |kw: &str| -> Vec<String> {
        let arg = &ins
            .iter()
            .find(|(k, _)| k == kw)
            .unwrap_or_else(|| panic!("no {kw}"))
            .1;
        serde_json::from_str(arg).unwrap_or_else(|e| panic!("{kw} is not exec form: {e}"))
    };
    let hc = &ins
        .iter()
        .find(|(k, _)| k == "HEALTHCHECK")
        .expect("a HEALTHCHECK")
        .1;
    let cmd = hc.split_once("CMD ").expect("HEALTHCHECK … CMD [...]").1;
    let cmd: Vec<String> = serde_json::from_str(cmd).expect("HEALTHCHECK CMD in exec form");
    assert_eq!(cmd, ["otpgw", "healthcheck"]);
    assert_eq!(exec_form("ENTRYPOINT"), ["otpgw"]);
    assert_eq!(
        exec_form("CMD"),
        ["serve", "--config", "/etc/otpgw/otpgw.toml"]
    );
    let exposed: BTreeSet<&str> = ins
        .iter()
        .filter(|(k, _)| k == "EXPOSE")
        .flat_map(|(_, a)| a.split_whitespace())
        .collect();
    assert_eq!(exposed, BTreeSet::from(["8080", "50051"]));
}

#[test]
fn dockerignore_lets_through_what_the_dockerfile_copies() {
    let ignore = read("deploy/Dockerfile.dockerignore");
    let rules: Vec<&str> = ignore
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    assert_eq!(rules.first(), Some(&"*"), "an allow-list starting with *");
    let allowed: BTreeSet<&str> = rules
        .iter()
        .filter_map(|r| r.strip_prefix('!'))
        .map(|r| r.trim_end_matches('/'))
        .collect();
    for (k, a) in dockerfile() {
        if k != "COPY" || a.starts_with("--from") {
            continue;
        }
        let words: Vec<&str> = a.split_whitespace().collect();
        for src in &words[..words.len() - 1] {
            let top = src.split('/').next().unwrap();
            assert!(
                allowed.contains(top),
                "the Dockerfile copies {src}, which Dockerfile.dockerignore leaves out"
            );
            assert!(
                path(src).exists(),
                "the Dockerfile copies {src}, which does not exist"
            );
        }
    }
}

// ------------------------------------------------------------------ dashboard

/// Every panel, rows' nested panels included.
fn panels(d: &Json) -> Vec<&Json> {
    let mut out = Vec::new();
    for p in d["panels"].as_array().expect("panels") {
        out.push(p);
        if let Some(inner) = p["panels"].as_array() {
            out.extend(inner);
        }
    }
    out
}

fn dashboard_exprs(d: &Json) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for p in panels(d) {
        for t in p["targets"].as_array().into_iter().flatten() {
            if let Some(e) = t["expr"].as_str() {
                out.push((
                    p["title"].as_str().unwrap_or("?").to_string(),
                    e.to_string(),
                ));
            }
        }
    }
    out
}

#[test]
fn dashboard_parses_takes_its_datasource_from_a_variable_and_uses_known_metrics() {
    let d = json("deploy/grafana/otpgw-dashboard.json");
    assert!(
        d["schemaVersion"].as_u64().unwrap_or(0) >= 36,
        "schemaVersion {}",
        d["schemaVersion"]
    );
    assert!(d["uid"].as_str().is_some_and(|u| !u.is_empty()));
    let vars = d["templating"]["list"].as_array().expect("templating.list");
    let ds = vars
        .iter()
        .find(|v| v["type"] == "datasource")
        .expect("a datasource variable");
    assert_eq!(ds["query"], "prometheus");
    let ds_ref = format!("${{{}}}", ds["name"].as_str().unwrap());
    let mut ids = BTreeSet::new();
    let mut used = BTreeSet::new();
    for p in panels(&d) {
        let title = p["title"].as_str().expect("panel title");
        assert!(ids.insert(p["id"].as_u64().expect("panel id")), "id twice");
        if p["type"] == "row" {
            continue;
        }
        assert_eq!(
            p["datasource"]["uid"],
            ds_ref.as_str(),
            "{title}: datasource"
        );
        let targets = p["targets"].as_array().expect("targets");
        assert!(!targets.is_empty(), "{title} has no query");
        for t in targets {
            assert_eq!(t["datasource"]["uid"], ds_ref.as_str(), "{title}: target");
            let e = t["expr"].as_str().unwrap_or("");
            assert!(!e.trim().is_empty(), "{title}: empty expression");
            if e.contains("_bucket") {
                assert!(
                    e.contains("histogram_quantile(") && e.contains("le"),
                    "{title}: buckets outside histogram_quantile by le: {e}"
                );
            }
        }
    }
    for (title, e) in dashboard_exprs(&d) {
        used.extend(assert_known_metrics(&e, &format!("panel {title:?}")));
    }
    for v in vars {
        let q = match &v["query"] {
            Json::String(q) => q.clone(),
            Json::Object(o) => o
                .get("query")
                .and_then(Json::as_str)
                .unwrap_or("")
                .to_string(),
            _ => String::new(),
        };
        used.extend(assert_known_metrics(&q, &format!("variable {}", v["name"])));
    }
    // The panels the deployment is expected to watch.
    let titles: Vec<String> = panels(&d)
        .iter()
        .map(|p| p["title"].as_str().unwrap().to_lowercase())
        .collect();
    for want in [
        "send rate",
        "conversion by country",
        "send latency",
        "queue depth",
        "oldest queued",
        "dead letters",
        "rate-limit",
        "store latency",
        "store errors",
        "breaker",
        "http requests",
        "http latency",
        "grpc calls",
        "grpc latency",
    ] {
        assert!(
            titles.iter().any(|t| t.contains(want)),
            "no panel about {want:?}"
        );
    }
    let missing: Vec<&&str> = otpgw::metrics::NAMES
        .iter()
        .filter(|n| !used.contains(*n))
        .collect();
    assert!(
        missing.is_empty(),
        "series without a panel in the dashboard: {missing:?}"
    );
}

#[test]
fn dashboard_expressions_are_valid_promql() {
    let d = json("deploy/grafana/otpgw-dashboard.json");
    let mut rules = Vec::new();
    for (i, (title, e)) in dashboard_exprs(&d).into_iter().enumerate() {
        // Grafana's variables, as Grafana would expand them.
        let mut e = e
            .replace("$__rate_interval", "5m")
            .replace("$__range", "1h")
            .replace("$__interval", "1m");
        while let Some(at) = e.find('$') {
            let rest = &e[at + 1..];
            let len = if let Some(inner) = rest.strip_prefix('{') {
                inner.find('}').expect("closed ${") + 2
            } else {
                rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(rest.len())
            };
            e.replace_range(at..at + 1 + len, ".*");
        }
        let mut rule = serde_yaml_ng::Mapping::new();
        rule.insert("record".into(), format!("dashboard:panel_{i}").into());
        rule.insert("expr".into(), e.into());
        rule.insert(
            "labels".into(),
            Yaml::Mapping([("panel".into(), title.into())].into_iter().collect()),
        );
        rules.push(Yaml::Mapping(rule));
    }
    let doc = serde_yaml_ng::to_string(&serde_yaml_ng::Value::Mapping(
        [(
            "groups".into(),
            Yaml::Sequence(vec![Yaml::Mapping(
                [
                    ("name".into(), "dashboard".into()),
                    ("rules".into(), Yaml::Sequence(rules)),
                ]
                .into_iter()
                .collect(),
            )]),
        )]
        .into_iter()
        .collect(),
    ))
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dashboard-exprs.yml");
    std::fs::write(&file, doc).unwrap();
    let (ok, out) = promtool(&["check", "rules", file.to_str().unwrap()]);
    assert!(ok, "a dashboard expression is not valid PromQL:\n{out}");
}

// ------------------------------------------------------------------ alerts and runbook

fn alert_rules() -> Vec<Yaml> {
    let a = yaml("deploy/prometheus/alerts.yml");
    seq(&a["groups"], "groups")
        .iter()
        .flat_map(|g| seq(&g["rules"], "rules").iter().cloned())
        .collect()
}

#[test]
fn alerts_use_known_metrics_and_link_their_runbook_section() {
    let rules = alert_rules();
    let runbook = read("deploy/RUNBOOK.md");
    let anchors: BTreeSet<String> = headings(&runbook).iter().map(|(_, h)| anchor(h)).collect();
    let mut names = BTreeSet::new();
    for r in &rules {
        let expr = s(&r["expr"], "expr");
        let what = r["alert"]
            .as_str()
            .or(r["record"].as_str())
            .expect("alert or record");
        assert_known_metrics(expr, &format!("rule {what}"));
        let Some(name) = r["alert"].as_str() else {
            continue;
        };
        assert!(names.insert(name.to_string()), "alert {name} twice");
        let sev = s(&r["labels"]["severity"], &format!("{name} severity"));
        assert!(
            ["critical", "warning"].contains(&sev),
            "{name}: severity {sev}"
        );
        for key in ["summary", "description", "runbook_url"] {
            let v = s(&r["annotations"][key], &format!("{name} annotation {key}"));
            assert!(!v.trim().is_empty(), "{name}: empty {key}");
        }
        let url = s(&r["annotations"]["runbook_url"], "runbook_url");
        let (doc, frag) = url
            .split_once('#')
            .unwrap_or_else(|| panic!("{name}: runbook_url {url} has no anchor"));
        assert_eq!(doc, "deploy/RUNBOOK.md", "{name}: runbook_url {url}");
        assert!(
            anchors.contains(frag),
            "{name}: #{frag} is not a heading of deploy/RUNBOOK.md"
        );
        assert_eq!(frag, anchor(name), "{name}: links another alert's section");
    }
    // What the deployment promises to alert on.
    for want in [
        "OtpgwInstanceDown",
        "OtpgwAllInstancesDown",
        "OtpgwNotReady",
        "OtpgwSendFailureRatioHigh",
        "OtpgwBreakerOpen",
        "OtpgwQueueOldestAgeHigh",
        "OtpgwDeadLettersIncreasing",
        "OtpgwConversionDropped",
        "OtpgwStoreErrors",
        "OtpgwStoreLatencyHigh",
        "OtpgwHttp5xxRatioHigh",
        "OtpgwDeliverySuccessLow",
        "OtpgwSpendOverBudget",
        "OtpgwEventsDeadLettered",
        "OtpgwPumpingBlocksSpiking",
    ] {
        assert!(names.contains(want), "no alert {want}");
    }
    // And the runbook has no section for an alert that no longer exists.
    for (level, h) in headings(&runbook) {
        if level == 2 {
            assert!(
                names.contains(&h),
                "RUNBOOK.md section {h:?} matches no alert"
            );
        }
    }
}

#[test]
fn promtool_checks_the_rules_and_the_prometheus_config() {
    let rules = path("deploy/prometheus/alerts.yml");
    let (ok, out) = promtool(&["check", "rules", rules.to_str().unwrap()]);
    assert!(ok, "promtool check rules:\n{out}");
    // Rule files are resolved relative to the config file, which is how Compose mounts
    // them.
    let cfg = path("deploy/prometheus/prometheus.yml");
    let (ok, out) = promtool(&["check", "config", cfg.to_str().unwrap()]);
    assert!(ok, "promtool check config:\n{out}");
    assert!(
        out.contains("alerts.yml"),
        "the config loads alerts.yml:\n{out}"
    );
}

#[test]
fn alert_unit_tests_pass_and_fire_every_alert() {
    let tests = yaml("deploy/prometheus/alerts.test.yml");
    let mut fired = BTreeSet::new();
    for t in seq(&tests["tests"], "tests") {
        for a in t["alert_rule_test"].as_sequence().into_iter().flatten() {
            if a["exp_alerts"].as_sequence().is_some_and(|e| !e.is_empty()) {
                fired.insert(s(&a["alertname"], "alertname").to_string());
            }
        }
    }
    for r in alert_rules() {
        if let Some(name) = r["alert"].as_str() {
            assert!(
                fired.contains(name),
                "alerts.test.yml has no case where {name} fires"
            );
        }
    }
    let file = path("deploy/prometheus/alerts.test.yml");
    let (ok, out) = promtool(&["test", "rules", file.to_str().unwrap()]);
    assert!(ok, "promtool test rules:\n{out}");
}

// ------------------------------------------------------------------ helpers' own tests

#[test]
fn metric_tokens_and_anchors_behave() {
    assert_eq!(
        metric_tokens(
            r#"histogram_quantile(0.99, sum by (le) (rate(otpgw_send_duration_seconds_bucket{job="otpgw"}[5m]))) / otpgw:conversion:ratio1h"#
        ),
        ["otpgw_send_duration_seconds_bucket"]
    );
    assert_eq!(
        known_metric("otpgw_send_duration_seconds_bucket"),
        Some("otpgw_send_duration_seconds")
    );
    assert_eq!(known_metric("otpgw_sends_failed_total"), None);
    // Suffixes only for histograms: not for a gauge the registry renders, nor a counter.
    assert_eq!(known_metric("otpgw_queue_depth_bucket"), None);
    assert_eq!(known_metric("otpgw_sends_total_count"), None);
    assert_eq!(known_metric("otpgw_queue_depth"), Some("otpgw_queue_depth"));
    assert_eq!(anchor("OtpgwStoreErrors"), "otpgwstoreerrors");
    assert_eq!(anchor("Shutdown grace and `x`"), "shutdown-grace-and-x");
}
