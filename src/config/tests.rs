use super::*;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A file under the temp dir with a name no other test (or test run) uses; removed on drop.
struct TempFile(PathBuf);

impl TempFile {
    fn new(extension: &str, text: &str) -> TempFile {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir()
            .join(format!("orchids2api-config-test-{}-{n}.{extension}", std::process::id()));
        std::fs::write(&path, text).expect("write temp file");
        TempFile(path)
    }

    fn overrides(&self) -> Overrides {
        Overrides { config_path: Some(self.0.clone()), ..Overrides::default() }
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn env(vars: &[(&str, &str)]) -> Vec<(String, String)> {
    vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn no_env() -> Vec<(String, String)> {
    Vec::new()
}

fn load_toml(text: &str, vars: &[(&str, &str)]) -> Result<Loaded, ConfigError> {
    let file = TempFile::new("toml", text);
    Config::load(&file.overrides(), env(vars))
}

fn load_json(text: &str) -> Result<Loaded, ConfigError> {
    let file = TempFile::new("json", text);
    Config::load(&file.overrides(), no_env())
}

fn error_text<T: fmt::Debug>(result: Result<T, ConfigError>) -> String {
    result.expect_err("expected a ConfigError").to_string()
}

use std::fmt;

// --- Defaults -------------------------------------------------------------------------------

#[test]
fn defaults_are_the_documented_ones() {
    let c = Config::default();
    assert_eq!(c.listen, "127.0.0.1:3002".parse::<SocketAddr>().unwrap());
    assert_eq!(c.data_dir, PathBuf::from("./data"));
    assert_eq!(c.tls_cert, None);
    assert_eq!(c.tls_key, None);
    assert_eq!(c.max_body_bytes, 33_554_432);
    assert_eq!(c.header_read_timeout_s, 10);
    assert_eq!(c.drain_timeout_s, 30);
    assert_eq!(c.ping_interval_s, 15);
    assert_eq!(c.concurrency_limit, 0);
    assert_eq!(c.auth, AuthMode::ApiKey);
    assert_eq!(c.admin_token, None);
    assert_eq!(c.admin_user, "admin");
    assert_eq!(c.admin_password, None);
    assert_eq!(c.request_timeout_s, 600);
    assert_eq!(c.connect_timeout_s, 10);
    assert_eq!(c.stream_idle_timeout_s, 300);
    assert_eq!(c.proxy_url, None);
    assert_eq!(c.max_retries, 3);
    assert_eq!(c.retry_delay_ms, 250);
    assert_eq!(c.store, StoreKind::Embedded);
    assert_eq!(c.redis_url.expose(), "redis://127.0.0.1:6379/0");
    assert_eq!(c.redis_prefix, "o2a:");
    assert_eq!(c.secret_key, None);
    assert_eq!(c.log_level, "info");
    assert_eq!(c.log_format, LogFormat::Text);
    assert_eq!(c.anthropic_version, "2023-06-01");
    assert_eq!(c.grok_base_url, "https://grok.com");
    assert_eq!(c.grok_assets_url, "https://assets.grok.com");
    assert_eq!(c.grok_tool_cards, ToolCards::Lines);
    assert_eq!(c.grok_quota_interval_s, 600);
    assert_eq!(c.max_image_bytes, 20 * 1024 * 1024);
    assert_eq!(c.warp_base_url, "https://app.warp.dev");
    assert_eq!(c.warp_auth_url, "https://securetoken.googleapis.com/v1/token");
    assert_eq!(c.warp_quota_interval_s, 1800);
    assert_eq!(c.public_base_url, None);
    assert_eq!(c.media_cache_max_bytes, 1_073_741_824);
    assert!(!c.media_fetch_allow_private);
    assert!(c.api_keys.is_empty() && c.accounts.is_empty() && c.models.is_empty());
    c.validate().expect("the defaults are valid");
}

#[test]
fn empty_toml_and_empty_environment_give_the_defaults() {
    assert_eq!(Config::from_toml_str("").unwrap(), Config::default());
    let loaded = load_toml("", &[("PATH", "/bin"), ("HOME", "/root")]).unwrap();
    assert_eq!(loaded.config, Config::default());
    assert!(loaded.warnings.is_empty());
}

// --- Every key, through each layer ----------------------------------------------------------

/// A config with every key away from its default. A struct literal, so adding a field to
/// `Config` without adding it here does not compile; the two tests below then prove that the
/// TOML file and the environment both reach every key.
fn every_key_changed() -> Config {
    Config {
        listen: "0.0.0.0:8080".parse().unwrap(),
        data_dir: PathBuf::from("/var/lib/o2a"),
        tls_cert: Some(PathBuf::from("/etc/o2a/cert.pem")),
        tls_key: Some(PathBuf::from("/etc/o2a/key.pem")),
        max_body_bytes: 1024,
        header_read_timeout_s: 11,
        drain_timeout_s: 31,
        ping_interval_s: 16,
        concurrency_limit: 64,
        concurrency_queue_ms: 250,
        auth: AuthMode::None,
        admin_token: Some(Secret::new("admin-token-1")),
        admin_user: "root".into(),
        admin_password: Some(Secret::new("admin-pass-1")),
        request_timeout_s: 601,
        connect_timeout_s: 12,
        stream_idle_timeout_s: 301,
        proxy_url: Some(Secret::new("http://u:p@proxy:3128")),
        max_retries: 5,
        retry_delay_ms: 100,
        session_ttl_s: 61,
        dedup_window_ms: 0,
        store: StoreKind::Redis,
        redis_url: Secret::new("redis://:pw@redis:6379/2"),
        redis_prefix: "gw:".into(),
        secret_key: Some(Secret::new("secret-key-0123456789abcdef0123456789")),
        log_level: "debug".into(),
        log_format: LogFormat::Json,
        anthropic_version: "2024-01-01".into(),
        grok_base_url: "http://127.0.0.1:9100".into(),
        grok_assets_url: "http://127.0.0.1:9101".into(),
        grok_tool_cards: ToolCards::Hide,
        grok_quota_interval_s: 30,
        max_image_bytes: 1000,
        warp_base_url: "http://127.0.0.1:9200".into(),
        warp_auth_url: "http://127.0.0.1:9200/v1/token".into(),
        warp_quota_interval_s: 45,
        public_base_url: Some("https://gw.example.com".into()),
        media_cache_max_bytes: 4096,
        media_fetch_allow_private: true,
        api_keys: vec![ApiKeySeed { name: "k".into(), key: Secret::new("sk-k"), models: vec![] }],
        accounts: vec![AccountSeed {
            channel: ChannelKind::Grok,
            name: "a".into(),
            base_url: None,
            credential: Secret::new("sso-a"),
            weight: 1,
            priority: 0,
            enabled: true,
            max_concurrency: 0,
        }],
        models: vec![ModelSeed {
            id: "grok-3".into(),
            channel: ChannelKind::Grok,
            upstream: None,
            display_name: None,
            enabled: true,
        }],
    }
}

const EVERY_KEY_TOML: &str = r#"
listen = "0.0.0.0:8080"
data_dir = "/var/lib/o2a"
tls_cert = "/etc/o2a/cert.pem"
tls_key = "/etc/o2a/key.pem"
max_body_bytes = 1024
header_read_timeout_s = 11
drain_timeout_s = 31
ping_interval_s = 16
concurrency_limit = 64
concurrency_queue_ms = 250
auth = "none"
admin_token = "admin-token-1"
admin_user = "root"
admin_password = "admin-pass-1"
request_timeout_s = 601
connect_timeout_s = 12
stream_idle_timeout_s = 301
proxy_url = "http://u:p@proxy:3128"
max_retries = 5
retry_delay_ms = 100
session_ttl_s = 61
dedup_window_ms = 0
store = "redis"
redis_url = "redis://:pw@redis:6379/2"
redis_prefix = "gw:"
secret_key = "secret-key-0123456789abcdef0123456789"
log_level = "debug"
log_format = "json"
anthropic_version = "2024-01-01"
grok_base_url = "http://127.0.0.1:9100"
grok_assets_url = "http://127.0.0.1:9101"
grok_tool_cards = "hide"
grok_quota_interval_s = 30
max_image_bytes = 1000
warp_base_url = "http://127.0.0.1:9200"
warp_auth_url = "http://127.0.0.1:9200/v1/token"
warp_quota_interval_s = 45
public_base_url = "https://gw.example.com"
media_cache_max_bytes = 4096
media_fetch_allow_private = true

[[api_keys]]
name = "k"
key = "sk-k"

[[accounts]]
channel = "grok"
name = "a"
credential = "sso-a"

[[models]]
id = "grok-3"
channel = "grok"
"#;

const EVERY_KEY_ENV: &[(&str, &str)] = &[
    ("O2A_LISTEN", "0.0.0.0:8080"),
    ("O2A_DATA_DIR", "/var/lib/o2a"),
    ("O2A_TLS_CERT", "/etc/o2a/cert.pem"),
    ("O2A_TLS_KEY", "/etc/o2a/key.pem"),
    ("O2A_MAX_BODY_BYTES", "1024"),
    ("O2A_HEADER_READ_TIMEOUT_S", "11"),
    ("O2A_DRAIN_TIMEOUT_S", "31"),
    ("O2A_PING_INTERVAL_S", "16"),
    ("O2A_CONCURRENCY_LIMIT", "64"),
    ("O2A_CONCURRENCY_QUEUE_MS", "250"),
    ("O2A_AUTH", "none"),
    ("O2A_ADMIN_TOKEN", "admin-token-1"),
    ("O2A_ADMIN_USER", "root"),
    ("O2A_ADMIN_PASSWORD", "admin-pass-1"),
    ("O2A_REQUEST_TIMEOUT_S", "601"),
    ("O2A_CONNECT_TIMEOUT_S", "12"),
    ("O2A_STREAM_IDLE_TIMEOUT_S", "301"),
    ("O2A_PROXY_URL", "http://u:p@proxy:3128"),
    ("O2A_MAX_RETRIES", "5"),
    ("O2A_RETRY_DELAY_MS", "100"),
    ("O2A_SESSION_TTL_S", "61"),
    ("O2A_DEDUP_WINDOW_MS", "0"),
    ("O2A_STORE", "redis"),
    ("O2A_REDIS_URL", "redis://:pw@redis:6379/2"),
    ("O2A_REDIS_PREFIX", "gw:"),
    ("O2A_SECRET_KEY", "secret-key-0123456789abcdef0123456789"),
    ("O2A_LOG_LEVEL", "debug"),
    ("O2A_LOG_FORMAT", "json"),
    ("O2A_ANTHROPIC_VERSION", "2024-01-01"),
    ("O2A_GROK_BASE_URL", "http://127.0.0.1:9100"),
    ("O2A_GROK_ASSETS_URL", "http://127.0.0.1:9101"),
    ("O2A_GROK_TOOL_CARDS", "hide"),
    ("O2A_GROK_QUOTA_INTERVAL_S", "30"),
    ("O2A_MAX_IMAGE_BYTES", "1000"),
    ("O2A_WARP_BASE_URL", "http://127.0.0.1:9200"),
    ("O2A_WARP_AUTH_URL", "http://127.0.0.1:9200/v1/token"),
    ("O2A_WARP_QUOTA_INTERVAL_S", "45"),
    ("O2A_PUBLIC_BASE_URL", "https://gw.example.com"),
    ("O2A_MEDIA_CACHE_MAX_BYTES", "4096"),
    ("O2A_MEDIA_FETCH_ALLOW_PRIVATE", "true"),
    ("O2A_API_KEYS", r#"[{"name": "k", "key": "sk-k"}]"#),
    ("O2A_ACCOUNTS", r#"[{"channel": "grok", "name": "a", "credential": "sso-a"}]"#),
    ("O2A_MODELS", r#"[{"id": "grok-3", "channel": "grok"}]"#),
];

#[test]
fn the_toml_file_reaches_every_key() {
    assert_eq!(Config::from_toml_str(EVERY_KEY_TOML).unwrap(), every_key_changed());
}

#[test]
fn the_environment_reaches_every_key() {
    let loaded = Config::load(&Overrides::default(), env(EVERY_KEY_ENV)).unwrap();
    assert_eq!(loaded.config, every_key_changed());
    assert_eq!(loaded.source, None);
    assert_eq!(EVERY_KEY_ENV.len(), env::KEYS.len());
}

#[test]
fn the_docs_list_every_key_and_every_ignored_original_key() {
    let docs = include_str!("../../docs/configuration.md");
    for (key, _) in env::KEYS {
        assert!(docs.contains(&format!("`{key}`")), "docs/configuration.md lacks `{key}`");
        let var = format!("O2A_{}", key.to_ascii_uppercase());
        assert!(docs.contains(&var), "docs/configuration.md lacks {var}");
    }
    for key in legacy::IGNORED {
        assert!(docs.contains(&format!("`{key}`")), "docs/configuration.md lacks original key `{key}`");
    }
}

// --- TOML -----------------------------------------------------------------------------------

const SEEDS: &str = r#"
[[api_keys]]
name = "dev"
key = "sk-dev"
models = ["gpt-4o-mini"]

[[api_keys]]
name = "ops"
key = "sk-ops"

[[accounts]]
channel = "openai"
name = "acct-1"
base_url = "http://127.0.0.1:9001/v1"
credential = "sk-upstream-1"
weight = 3
priority = 1
enabled = false
max_concurrency = 8

[[accounts]]
channel = "anthropic"
name = "acct-1"
credential = "sk-ant-1"

[[accounts]]
channel = "warp"
name = "w"
credential = "refresh-token"

[[models]]
id = "gpt-4o-mini"
channel = "openai"
upstream = "gpt-4o-mini-2024-07-18"
display_name = "GPT-4o mini"
enabled = false

[[models]]
id = "claude-sonnet"
channel = "anthropic"
"#;

#[test]
fn toml_seeds_parse_with_their_defaults() {
    let c = Config::from_toml_str(SEEDS).unwrap();

    assert_eq!(c.api_keys.len(), 2);
    assert_eq!(c.api_keys[0].name, "dev");
    assert_eq!(c.api_keys[0].key.expose(), "sk-dev");
    assert_eq!(c.api_keys[0].models, ["gpt-4o-mini"]);
    assert!(c.api_keys[1].models.is_empty());

    let [openai, anthropic, warp] = &c.accounts[..] else { panic!("three accounts") };
    assert_eq!(openai.channel, ChannelKind::OpenAi);
    assert_eq!(openai.credential.expose(), "sk-upstream-1");
    assert_eq!((openai.weight, openai.priority, openai.enabled, openai.max_concurrency), (3, 1, false, 8));
    assert_eq!(openai.base_url_or_default(), Some("http://127.0.0.1:9001/v1"));
    assert_eq!(anthropic.channel, ChannelKind::Anthropic);
    assert_eq!(
        (anthropic.weight, anthropic.priority, anthropic.enabled, anthropic.max_concurrency),
        (1, 0, true, 0)
    );
    assert_eq!(anthropic.base_url, None);
    assert_eq!(anthropic.base_url_or_default(), Some("https://api.anthropic.com"));
    assert_eq!(warp.base_url_or_default(), None);
    assert_eq!(default_base_url(ChannelKind::OpenAi), Some("https://api.openai.com/v1"));

    let [mini, sonnet] = &c.models[..] else { panic!("two models") };
    assert_eq!(mini.upstream_id(), "gpt-4o-mini-2024-07-18");
    assert_eq!(mini.display_name.as_deref(), Some("GPT-4o mini"));
    assert!(!mini.enabled);
    assert_eq!(sonnet.upstream_id(), "claude-sonnet");
    assert_eq!(sonnet.display_name, None);
    assert!(sonnet.enabled);
}

#[test]
fn unknown_top_level_key_fails_naming_the_key_and_the_file() {
    let file = TempFile::new("toml", "listen = \"127.0.0.1:1\"\nlisen = \"x\"\n");
    let err = Config::load(&file.overrides(), no_env()).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, ConfigError::Parse { line: Some(2), .. }), "{err:?}");
    assert!(text.contains("unknown field `lisen`"), "{text}");
    assert!(text.contains(&file.0.display().to_string()), "{text}");
}

#[test]
fn unknown_key_inside_a_seed_table_fails_naming_the_key() {
    for (table, entry) in [
        ("accounts", "channel = \"grok\"\nname = \"a\"\ncredential = \"c\"\nwieght = 2"),
        ("models", "id = \"m\"\nchannel = \"grok\"\nupstream_id = \"x\""),
        ("api_keys", "name = \"k\"\nkey = \"sk\"\nmodel = []"),
    ] {
        let text = error_text(Config::from_toml_str(&format!("[[{table}]]\n{entry}\n")));
        let bad = entry.lines().last().unwrap().split(' ').next().unwrap();
        assert!(text.contains(&format!("unknown field `{bad}`")), "{table}: {text}");
        assert!(text.starts_with("TOML text line "), "{table}: {text}");
    }
}

#[test]
fn wrong_types_and_bad_choices_fail_with_the_key_named() {
    let text = error_text(Config::from_toml_str("request_timeout_s = \"ten\""));
    assert!(text.starts_with("TOML text line 1, column 21: key `request_timeout_s`: "), "{text}");
    assert!(text.contains("expected u64"), "{text}");
    let text = error_text(Config::from_toml_str("# comment\nlisten = \"localhost:80\""));
    assert_eq!(text, "TOML text line 2, column 10: key `listen`: invalid socket address syntax");
    let text = error_text(Config::from_toml_str("log_format = \"xml\""));
    assert!(text.contains("unknown variant `xml`, expected `text` or `json`"), "{text}");
    let text = error_text(Config::from_toml_str(
        "[[accounts]]\nchannel = \"bard\"\nname = \"a\"\ncredential = \"c\"",
    ));
    assert!(text.contains("unknown channel \"bard\""), "{text}");
    let text = error_text(Config::from_toml_str("[[accounts]]\nchannel = \"grok\"\nname = \"a\""));
    assert!(text.contains("missing field `credential`"), "{text}");
}

#[test]
fn a_missing_config_file_is_an_error_naming_it() {
    let path =
        std::env::temp_dir().join(format!("orchids2api-config-test-{}-absent.toml", std::process::id()));
    let overrides = Overrides { config_path: Some(path.clone()), ..Overrides::default() };
    let err = Config::load(&overrides, no_env()).unwrap_err();
    assert!(matches!(err, ConfigError::Read { .. }), "{err:?}");
    assert!(err.to_string().contains(&path.display().to_string()));
}

// --- Environment and flags ------------------------------------------------------------------

#[test]
fn environment_overrides_the_file_and_flags_override_the_environment() {
    let file = TempFile::new(
        "toml",
        "listen = \"127.0.0.1:4000\"\ndata_dir = \"/file\"\nmax_retries = 7\nrequest_timeout_s = 100\n",
    );
    let vars = [("O2A_LISTEN", "127.0.0.1:5000"), ("O2A_DATA_DIR", "/env"), ("O2A_REQUEST_TIMEOUT_S", "200")];

    let loaded = Config::load(&file.overrides(), env(&vars)).unwrap();
    assert_eq!(loaded.source.as_deref(), Some(file.0.as_path()));
    assert_eq!(loaded.config.listen.port(), 5000);
    assert_eq!(loaded.config.data_dir, PathBuf::from("/env"));
    assert_eq!(loaded.config.request_timeout_s, 200);
    assert_eq!(loaded.config.max_retries, 7, "keys the environment leaves alone keep the file's value");

    let flags = Overrides {
        listen: Some("127.0.0.1:6000".into()),
        data_dir: Some(PathBuf::from("/flag")),
        ..file.overrides()
    };
    let loaded = Config::load(&flags, env(&vars)).unwrap();
    assert_eq!(loaded.config.listen.port(), 6000);
    assert_eq!(loaded.config.data_dir, PathBuf::from("/flag"));
    assert_eq!(loaded.config.request_timeout_s, 200);
}

#[test]
fn environment_lists_replace_the_file_lists() {
    let loaded = load_toml(SEEDS, &[("O2A_MODELS", r#"[{"id": "only", "channel": "openai"}]"#)]).unwrap();
    assert_eq!(loaded.config.models.len(), 1);
    assert_eq!(loaded.config.models[0].id, "only");
    assert_eq!(loaded.config.accounts.len(), 3);
}

#[test]
fn json_array_seeds_from_the_environment() {
    let vars = [
        ("O2A_API_KEYS", r#"[{"name": "dev", "key": "sk-dev", "models": ["m"]}]"#),
        (
            "O2A_ACCOUNTS",
            r#"[{"channel": "openai", "name": "a1", "credential": "sk-1", "weight": 2},
                {"channel": "anthropic", "name": "a1", "credential": "sk-2", "enabled": false}]"#,
        ),
        ("O2A_MODELS", r#"[{"id": "m", "channel": "openai", "upstream": "m-2025"}]"#),
    ];
    let c = Config::load(&Overrides::default(), env(&vars)).unwrap().config;
    assert_eq!(c.api_keys[0].key.expose(), "sk-dev");
    assert_eq!(c.api_keys[0].models, ["m"]);
    assert_eq!(c.accounts[0].weight, 2);
    assert!(!c.accounts[1].enabled);
    assert_eq!(c.accounts[1].channel, ChannelKind::Anthropic);
    assert_eq!(c.models[0].upstream_id(), "m-2025");
}

#[test]
fn unknown_key_in_an_environment_seed_fails_naming_variable_and_key() {
    let vars = [("O2A_ACCOUNTS", r#"[{"channel": "grok", "name": "a", "credential": "c", "wieght": 1}]"#)];
    let text = error_text(Config::load(&Overrides::default(), env(&vars)));
    assert!(text.starts_with("O2A_ACCOUNTS: "), "{text}");
    assert!(text.contains("unknown field `wieght`"), "{text}");
    let text = error_text(Config::load(&Overrides::default(), env(&[("O2A_MODELS", "{}")])));
    assert!(text.starts_with("O2A_MODELS: expected a JSON array of [[models]] tables"), "{text}");
}

#[test]
fn unknown_o2a_variable_fails_naming_it() {
    let err = Config::load(&Overrides::default(), env(&[("O2A_FOO", "1")])).unwrap_err();
    assert!(matches!(&err, ConfigError::Env { var, .. } if var == "O2A_FOO"), "{err:?}");
    assert!(err.to_string().starts_with("O2A_FOO: not a configuration key"), "{err}");
    // Names are case-sensitive, as the environment is.
    let text = error_text(Config::load(&Overrides::default(), env(&[("O2A_listen", "127.0.0.1:1")])));
    assert!(text.starts_with("O2A_listen: "), "{text}");
}

#[test]
fn bad_environment_values_say_what_was_expected() {
    let cases = [
        (
            "O2A_REQUEST_TIMEOUT_S",
            "abc",
            r#"O2A_REQUEST_TIMEOUT_S: expected a whole number of seconds, got "abc""#,
        ),
        (
            "O2A_RETRY_DELAY_MS",
            "-1",
            r#"O2A_RETRY_DELAY_MS: expected a whole number of milliseconds, got "-1""#,
        ),
        ("O2A_MAX_BODY_BYTES", "1MB", r#"O2A_MAX_BODY_BYTES: expected a whole number of bytes, got "1MB""#),
        ("O2A_MAX_RETRIES", "3.5", r#"O2A_MAX_RETRIES: expected a whole number, got "3.5""#),
        (
            "O2A_LISTEN",
            "localhost",
            r#"O2A_LISTEN: expected a socket address such as 127.0.0.1:3002, got "localhost""#,
        ),
        ("O2A_AUTH", "off", r#"O2A_AUTH: expected `api_key` or `none`, got "off""#),
        ("O2A_STORE", "sqlite", r#"O2A_STORE: expected `embedded` or `redis`, got "sqlite""#),
        ("O2A_LOG_FORMAT", "xml", r#"O2A_LOG_FORMAT: expected `text` or `json`, got "xml""#),
        ("O2A_DATA_DIR", "", r#"O2A_DATA_DIR: expected a path, got """#),
    ];
    for (var, value, expected) in cases {
        assert_eq!(error_text(Config::load(&Overrides::default(), env(&[(var, value)]))), expected);
    }
}

#[test]
fn an_empty_variable_unsets_an_optional_key() {
    let loaded = load_toml(
        "admin_token = \"t\"\ntls_cert = \"c.pem\"\ntls_key = \"k.pem\"\n",
        &[("O2A_ADMIN_TOKEN", ""), ("O2A_TLS_CERT", ""), ("O2A_TLS_KEY", "")],
    )
    .unwrap();
    assert_eq!(loaded.config.admin_token, None);
    assert_eq!(loaded.config.tls_cert, None);
    assert_eq!(loaded.config.tls_key, None);
}

#[test]
fn a_bad_listen_flag_names_the_flag() {
    let flags = Overrides { listen: Some("nope".into()), ..Overrides::default() };
    let err = Config::load(&flags, no_env()).unwrap_err();
    assert!(matches!(err, ConfigError::Flag { flag: "--listen", .. }), "{err:?}");
    assert!(err.to_string().starts_with("--listen: expected a socket address"), "{err}");
}

#[test]
fn o2a_config_names_the_file_and_the_flag_wins_over_it() {
    let from_env = TempFile::new("toml", "max_retries = 1");
    let from_flag = TempFile::new("toml", "max_retries = 2");
    let var = [("O2A_CONFIG", from_env.0.to_str().unwrap())];

    let loaded = Config::load(&Overrides::default(), env(&var)).unwrap();
    assert_eq!(loaded.source.as_deref(), Some(from_env.0.as_path()));
    assert_eq!(loaded.config.max_retries, 1);

    let loaded = Config::load(&from_flag.overrides(), env(&var)).unwrap();
    assert_eq!(loaded.source.as_deref(), Some(from_flag.0.as_path()));
    assert_eq!(loaded.config.max_retries, 2);
}

// --- The original's config.json -------------------------------------------------------------

#[test]
fn config_json_maps_every_mapped_key() {
    let loaded = load_json(
        r#"{
            "port": "8081",
            "admin_user": "boss",
            "admin_pass": "s3cret",
            "admin_token": "tok",
            "redis_addr": "redis.internal:6380",
            "redis_password": "p@ss:word/1",
            "redis_db": 4,
            "redis_prefix": "orchids",
            "max_retries": 6,
            "retry_delay": 1000,
            "request_timeout": 900,
            "concurrency_limit": 100,
            "grok_api_base_url": "https://grok.example",
            "proxy_http": "http://proxy.internal:3128",
            "proxy_user": "me",
            "proxy_pass": "p w",
            "debug_enabled": true
        }"#,
    )
    .unwrap();
    let c = loaded.config;
    assert_eq!(c.listen, "0.0.0.0:8081".parse::<SocketAddr>().unwrap());
    assert_eq!(c.admin_user, "boss");
    assert_eq!(c.admin_password.as_ref().map(Secret::expose), Some("s3cret"));
    assert_eq!(c.admin_token.as_ref().map(Secret::expose), Some("tok"));
    assert_eq!(c.store, StoreKind::Redis);
    assert_eq!(c.redis_url.expose(), "redis://:p%40ss%3Aword%2F1@redis.internal:6380/4");
    assert_eq!(c.redis_prefix, "orchids:");
    assert_eq!(c.max_retries, 6);
    assert_eq!(c.retry_delay_ms, 1000);
    assert_eq!(c.request_timeout_s, 900);
    assert_eq!(c.concurrency_limit, 100);
    assert_eq!(c.grok_base_url, "https://grok.example");
    assert_eq!(c.proxy_url.as_ref().map(Secret::expose), Some("http://me:p%20w@proxy.internal:3128"));
    assert_eq!(c.log_level, "debug");
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
}

#[test]
fn config_json_port_may_be_a_number_and_redis_needs_no_password() {
    let c =
        load_json(r#"{"port": 3002, "redis_addr": "127.0.0.1:6379", "redis_prefix": "x:"}"#).unwrap().config;
    assert_eq!(c.listen, "0.0.0.0:3002".parse::<SocketAddr>().unwrap());
    assert_eq!(c.redis_url.expose(), "redis://127.0.0.1:6379/0");
    assert_eq!(c.redis_prefix, "x:");
}

#[test]
fn config_json_proxy_without_scheme_or_with_its_own_credentials() {
    let c = load_json(r#"{"proxy_http": "proxy:8080", "proxy_user": "u"}"#).unwrap().config;
    assert_eq!(c.proxy_url.as_ref().map(Secret::expose), Some("http://u@proxy:8080"));

    let loaded =
        load_json(r#"{"proxy_http": "http://a:b@proxy:8080", "proxy_user": "u", "proxy_pass": "p"}"#)
            .unwrap();
    assert_eq!(loaded.config.proxy_url.as_ref().map(Secret::expose), Some("http://a:b@proxy:8080"));
    assert_eq!(loaded.warnings.len(), 1, "{:?}", loaded.warnings);
}

#[test]
fn config_json_known_but_unmapped_keys_warn() {
    let file =
        TempFile::new("json", r#"{"suppress_thinking": true, "store_mode": "redis", "max_retries": 2}"#);
    let mut loaded = Config::load(&file.overrides(), no_env()).unwrap();
    let name = file.0.file_name().unwrap().to_string_lossy().into_owned();
    loaded.warnings.sort();
    assert_eq!(
        loaded.warnings,
        [
            format!("{name} key `store_mode` has no equivalent and is ignored"),
            format!("{name} key `suppress_thinking` has no equivalent and is ignored"),
        ]
    );
    assert_eq!(loaded.config.max_retries, 2);
}

#[test]
fn config_json_unknown_key_fails_naming_it() {
    let text = error_text(load_json(r#"{"port": "3002", "suppress_thinkin": true}"#));
    assert!(text.contains("unknown key `suppress_thinkin`"), "{text}");
    // Even with a zero value: a typo is a typo.
    let text = error_text(load_json(r#"{"portt": ""}"#));
    assert!(text.contains("unknown key `portt`"), "{text}");
    let text = error_text(load_json(r#"{"listen": "127.0.0.1:1"}"#));
    assert!(
        text.contains("unknown key `listen`") && text.contains("it is a key of orchids2api.toml"),
        "{text}"
    );
}

#[test]
fn config_json_zero_values_leave_our_defaults() {
    let loaded = load_json(
        r#"{
            "port": "", "admin_user": "", "admin_pass": "", "admin_token": "",
            "redis_addr": "", "redis_password": "", "redis_db": 0, "redis_prefix": "",
            "max_retries": 0, "retry_delay": 0, "request_timeout": 0, "concurrency_limit": 0,
            "grok_api_base_url": "", "proxy_http": "", "proxy_user": "", "proxy_pass": "",
            "debug_enabled": false, "store_mode": "", "suppress_thinking": false,
            "orchids_fs_ignore": [], "context_max_tokens": 0
        }"#,
    )
    .unwrap();
    assert_eq!(loaded.config, Config::default());
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
}

#[test]
fn config_json_credentials_without_their_address_warn() {
    let loaded =
        load_json(r#"{"redis_password": "x", "proxy_user": "u", "admin_pass": "admin123"}"#).unwrap();
    assert_eq!(loaded.config.store, StoreKind::Embedded);
    assert_eq!(loaded.config.proxy_url, None);
    assert_eq!(loaded.warnings.len(), 3, "{:?}", loaded.warnings);
    assert!(loaded.warnings.iter().any(|w| w.contains("`redis_password` is ignored")));
    assert!(loaded.warnings.iter().any(|w| w.contains("`proxy_user` is ignored")));
    assert!(loaded.warnings.iter().any(|w| w.contains("published default password")));
}

#[test]
fn config_json_type_errors_name_the_key() {
    let text = error_text(load_json(r#"{"max_retries": "three"}"#));
    assert!(text.contains("key `max_retries`: expected a whole number"), "{text}");
    let text = error_text(load_json(r#"{"port": "http"}"#));
    assert!(text.contains("key `port`: expected a port number"), "{text}");
    let text = error_text(load_json(r#"{"debug_enabled": "yes"}"#));
    assert!(text.contains("key `debug_enabled`: expected true or false"), "{text}");
    let text = error_text(load_json(r#"[1, 2]"#));
    assert!(text.contains("flat config.json object"), "{text}");
}

#[test]
fn config_json_then_environment() {
    let file = TempFile::new("json", r#"{"port": "3002", "max_retries": 6}"#);
    let loaded = Config::load(&file.overrides(), env(&[("O2A_MAX_RETRIES", "1")])).unwrap();
    assert_eq!(loaded.config.max_retries, 1);
    assert_eq!(loaded.config.listen.port(), 3002);
}

// --- Secrets --------------------------------------------------------------------------------

const SECRETS: [&str; 8] = [
    "tok-SECRET1",
    "pw-SECRET2",
    "prx-SECRET3",
    "rds-SECRET4",
    "sk-SECRET5",
    "cred-SECRET6",
    "enc-SECRET7",
    "SECRET",
];

#[test]
fn debug_output_shows_no_secret() {
    let c = Config::from_toml_str(
        r#"
        admin_token = "tok-SECRET1"
        admin_password = "pw-SECRET2"
        proxy_url = "http://u:prx-SECRET3@proxy:3128"
        redis_url = "redis://:rds-SECRET4@redis:6379/0"
        secret_key = "enc-SECRET7-0123456789abcdef0123456789"
        [[api_keys]]
        name = "k"
        key = "sk-SECRET5"
        [[accounts]]
        channel = "grok"
        name = "a"
        credential = "cred-SECRET6"
        "#,
    )
    .unwrap();
    let debug = format!("{c:?} {c:#?}");
    for secret in SECRETS {
        assert!(!debug.contains(secret), "Debug shows {secret}: {debug}");
    }
    assert!(debug.contains("admin_token: Some(***)"), "{debug}");
}

#[test]
fn errors_show_no_secret() {
    let results = [
        // A numeric secret of the wrong type.
        Config::from_toml_str("admin_password = 12345678").map(|_| ()),
        // A typo'd key whose value is a secret.
        Config::from_toml_str("admin_pasword = \"pw-SECRET2\"").map(|_| ()),
        // A syntax error on a secret's line.
        Config::from_toml_str("admin_token = \"tok-SECRET1").map(|_| ()),
        Config::from_toml_str("admin_token = tok-SECRET1").map(|_| ()),
        Config::from_toml_str("proxy_url = \"socks5://prx-SECRET3\"").map(|_| ()),
        Config::from_toml_str("redis_url = \"rds-SECRET4\"").map(|_| ()),
        Config::from_toml_str("secret_key = \"enc-SECRET7\"").map(|_| ()),
        Config::from_toml_str("secret_key = 12345678").map(|_| ()),
        Config::from_toml_str("[[api_keys]]\nname = \"a\"\nkey = \"sk-SECRET5\"\n[[api_keys]]\nname = \"b\"\nkey = \"sk-SECRET5\"")
            .map(|_| ()),
        Config::from_toml_str("[[accounts]]\nchannel = \"grok\"\nname = \"a\"\ncredential = 99999999").map(|_| ()),
        Config::load(
            &Overrides::default(),
            env(&[("O2A_ACCOUNTS", r#"[{"channel": "grok", "name": "a", "credential": 99999999}]"#)]),
        )
        .map(|_| ()),
        load_json(r#"{"admin_pass": 12345678}"#).map(|_| ()),
    ];
    for result in results {
        let text = result.expect_err("an error").to_string();
        for secret in SECRETS.iter().chain(&["12345678", "99999999"]) {
            assert!(!text.contains(secret), "error shows {secret}: {text}");
        }
    }
}

// --- Validation -----------------------------------------------------------------------------

#[test]
fn validation_rejects_each_broken_rule() {
    let cases = [
        ("tls_cert = \"c.pem\"", "tls_cert and tls_key must be set together"),
        ("tls_key = \"k.pem\"", "tls_cert and tls_key must be set together"),
        ("max_body_bytes = 0", "max_body_bytes must be greater than 0"),
        ("request_timeout_s = 0", "request_timeout_s must be at least 1 second"),
        ("connect_timeout_s = 0", "connect_timeout_s must be at least 1 second"),
        ("stream_idle_timeout_s = 0", "stream_idle_timeout_s must be at least 1 second"),
        ("header_read_timeout_s = 0", "header_read_timeout_s must be at least 1 second"),
        ("drain_timeout_s = 0", "drain_timeout_s must be at least 1 second"),
        ("ping_interval_s = 0", "ping_interval_s must be at least 1 second"),
        ("admin_token = \"\"", "admin_token is empty"),
        ("admin_password = \"\"", "admin_password is empty"),
        ("admin_user = \"\"", "admin_user must not be empty"),
        ("secret_key = \"\"", "secret_key is empty"),
        ("secret_key = \"short\"", "secret_key must be at least 32 characters"),
        ("proxy_url = \"https://proxy:1\"", "proxy_url must look like http://"),
        ("proxy_url = \"http://\"", "proxy_url must look like http://"),
        ("redis_url = \"localhost:6379\"", "redis_url must start with redis://"),
        ("log_level = \"\"", "log_level must not be empty"),
        ("log_level = \"info,a=[\"", "log_level \"info,a=[\" is not a tracing filter directive"),
        ("anthropic_version = \"\"", "anthropic_version must not be empty"),
        ("grok_base_url = \"grok.com\"", "grok_base_url must be an http:// or https:// URL"),
        ("grok_assets_url = \"ftp://x\"", "grok_assets_url must be an http:// or https:// URL"),
        ("public_base_url = \"gw.example.com\"", "public_base_url must be an http:// or https:// URL"),
        ("public_base_url = \"https://gw.example.com/?a=1\"", "public_base_url must be an http://"),
        ("public_base_url = \"https://u:p@gw.example.com\"", "public_base_url must be an http://"),
        ("public_base_url = \"https://\"", "public_base_url must be an http://"),
        (
            "[[api_keys]]\nname = \"a\"\nkey = \"k1\"\n[[api_keys]]\nname = \"a\"\nkey = \"k2\"",
            "api_keys: the name `a` is used twice",
        ),
        ("[[api_keys]]\nname = \"a\"\nkey = \"\"", "api_keys `a`: key must not be empty"),
        ("[[api_keys]]\nname = \"\"\nkey = \"k\"", "api_keys[0]: name must not be empty"),
        (
            "[[api_keys]]\nname = \"a\"\nkey = \"k\"\n[[api_keys]]\nname = \"b\"\nkey = \"k\"",
            "api_keys `b`: same key as an earlier entry",
        ),
        (
            "[[accounts]]\nchannel = \"grok\"\nname = \"x\"\ncredential = \"c\"\n\
             [[accounts]]\nchannel = \"grok\"\nname = \"x\"\ncredential = \"d\"",
            "accounts `x` (grok): name used twice in channel grok",
        ),
        (
            "[[accounts]]\nchannel = \"grok\"\nname = \"x\"\ncredential = \"c\"\nweight = 0",
            "accounts `x` (grok): weight must be at least 1",
        ),
        (
            "[[accounts]]\nchannel = \"grok\"\nname = \"x\"\ncredential = \"\"",
            "accounts `x` (grok): credential must not be empty",
        ),
        (
            "[[accounts]]\nchannel = \"grok\"\nname = \"\"\ncredential = \"c\"",
            "accounts[0]: name must not be empty",
        ),
        (
            "[[accounts]]\nchannel = \"openai\"\nname = \"x\"\ncredential = \"c\"\nbase_url = \"localhost:9\"",
            "accounts `x` (openai): base_url must be an http:// or https:// URL",
        ),
        (
            "[[models]]\nid = \"m\"\nchannel = \"grok\"\n[[models]]\nid = \"m\"\nchannel = \"grok\"",
            "models: the id `m` is used twice in channel grok",
        ),
        ("[[models]]\nid = \"\"\nchannel = \"grok\"", "models[0]: id must not be empty"),
        (
            "[[models]]\nid = \"m\"\nchannel = \"grok\"\nupstream = \"\"",
            "models `m`: upstream must not be empty",
        ),
    ];
    for (toml, expected) in cases {
        let err = Config::from_toml_str(toml).unwrap_err();
        assert!(matches!(err, ConfigError::Invalid(_)), "{toml}: {err:?}");
        let text = err.to_string();
        assert!(text.starts_with(&format!("invalid configuration: {expected}")), "{toml}: {text}");
    }
}

#[test]
fn same_account_name_in_two_channels_is_fine() {
    let c = Config::from_toml_str(
        "[[accounts]]\nchannel = \"grok\"\nname = \"x\"\ncredential = \"c\"\n\
         [[accounts]]\nchannel = \"warp\"\nname = \"x\"\ncredential = \"d\"",
    );
    assert_eq!(c.unwrap().accounts.len(), 2);
}

#[test]
fn validation_runs_after_every_layer() {
    // The file sets half of the TLS pair and the environment the other half.
    let loaded = load_toml("tls_cert = \"c.pem\"", &[("O2A_TLS_KEY", "k.pem")]).unwrap();
    assert_eq!(loaded.config.tls_key, Some(PathBuf::from("k.pem")));
    let text = error_text(load_toml("", &[("O2A_REQUEST_TIMEOUT_S", "0")]));
    assert!(text.contains("request_timeout_s must be at least 1 second"), "{text}");
}

#[test]
fn one_model_id_may_be_served_by_several_channels() {
    let c = Config::from_toml_str(
        "[[models]]\nid = \"m\"\nchannel = \"anthropic\"\n[[models]]\nid = \"m\"\nchannel = \"warp\"",
    )
    .unwrap();
    assert_eq!(c.models.len(), 2);
}
