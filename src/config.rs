//! The configuration file, `iptlint.toml` or `.iptlint.toml`, and turning it
//! plus the command line into [`Settings`] for each checked file.
//!
//! The file is found by walking up from each checked file's directory (from
//! the current directory for standard input); the nearest one wins and files
//! further up are not merged in. In a directory holding both names,
//! `.iptlint.toml` wins (ruff's order). Settings stand at the top level of the
//! file, or under `[tool.iptlint]` so that one file can hold several tools'
//! tables:
//!
//! ```toml
//! select = ["ALL"]
//! ignore = ["IPT3"]
//! fail-on = "error"
//! [severity]
//! duplicate-rule = "error"
//! [[overrides]]
//! paths = ["kube/*.rules"]
//! ignore = ["unreachable-chain"]
//! ```
//!
//! Every mistake in the file is an error with the line and column of the key
//! or value at fault, and all of them are reported at once.

mod selector;
mod settings;

pub use selector::{Selector, UnknownLint, closest, suggest};
pub use settings::{FailOn, Layer, Settings};

use std::fmt;
use std::path::{Component, Path, PathBuf};

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::diagnostic::Severity;
use crate::report::LineIndex;

/// The names looked for in each directory, in order of preference.
pub const FILE_NAMES: [&str; 2] = [".iptlint.toml", "iptlint.toml"];

const KEYS: [&str; 5] = ["select", "ignore", "severity", "fail-on", "overrides"];
const OVERRIDE_KEYS: [&str; 5] = ["paths", "select", "ignore", "severity", "fail-on"];

/// A loaded configuration file.
#[derive(Debug)]
pub struct Config {
    /// As found or given.
    pub path: PathBuf,
    /// The directory override globs are relative to: absolute, normalized.
    dir: PathBuf,
    pub base: Layer,
    overrides: Vec<Override>,
}

#[derive(Debug)]
struct Override {
    globs: GlobSet,
    layer: Layer,
}

/// One mistake in a configuration file, at a 1-based line and column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub path: PathBuf,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.path.display(), self.message)
        } else {
            write!(
                f,
                "{}:{}:{}: {}",
                self.path.display(),
                self.line,
                self.column,
                self.message
            )
        }
    }
}

/// The largest configuration file read.
const MAX_CONFIG_BYTES: u64 = 1 << 20;

impl Config {
    /// Reads and checks a configuration file.
    pub fn load(path: &Path) -> Result<Config, Vec<ConfigError>> {
        let whole = |message: String| {
            vec![ConfigError {
                path: path.to_path_buf(),
                line: 0,
                column: 0,
                message,
            }]
        };
        let meta = std::fs::metadata(path).map_err(|e| whole(e.to_string()))?;
        if meta.len() > MAX_CONFIG_BYTES {
            return Err(whole(format!(
                "a configuration file larger than {MAX_CONFIG_BYTES} bytes"
            )));
        }
        let bytes = std::fs::read(path).map_err(|e| whole(e.to_string()))?;
        let text = String::from_utf8(bytes).map_err(|_| whole("not UTF-8 text".into()))?;
        Config::parse(path, &text)
    }

    /// Checks configuration text read from `path`.
    pub fn parse(path: &Path, text: &str) -> Result<Config, Vec<ConfigError>> {
        let mut reader = Reader {
            path,
            lines: LineIndex::new(text),
            errors: Vec::new(),
        };
        let document = match DeTable::parse(text) {
            Ok(document) => document,
            Err(e) => {
                let at = e.span().map_or(0, |s| s.start);
                reader.error(at, format!("not valid TOML: {}", e.message().trim_end()));
                return Err(reader.errors);
            }
        };
        let root = document.get_ref();
        let tool_settings = root
            .get("tool")
            .and_then(|tool| tool.get_ref().as_table())
            .and_then(|tool| tool.get("iptlint"));
        let (base, overrides) = match tool_settings {
            Some(settings) => {
                let others: Vec<_> = root.keys().filter(|k| k.get_ref() != "tool").collect();
                for key in sorted(others) {
                    reader.error(
                        key.span().start,
                        format!(
                            "`{}` at the top level, while the settings are under [tool.iptlint]: keep them in one place",
                            key.get_ref()
                        ),
                    );
                }
                match settings.get_ref().as_table() {
                    Some(table) => reader.settings(table, "[tool.iptlint]"),
                    None => {
                        reader.error(settings.span().start, "`tool.iptlint` must be a table");
                        (Layer::default(), Vec::new())
                    }
                }
            }
            None if root.contains_key("tool") => (Layer::default(), Vec::new()),
            None => reader.settings(root, "the configuration"),
        };
        if !reader.errors.is_empty() {
            return Err(reader.errors);
        }
        Ok(Config {
            path: path.to_path_buf(),
            dir: normalize(path)
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default(),
            base,
            overrides,
        })
    }

    /// The layers that apply to `file`: the file's base settings, then each
    /// override whose `paths` match the file's path relative to the
    /// configuration file's directory. Standard input (`None`) and files
    /// outside that directory get the base settings only.
    pub fn layers_for(&self, file: Option<&Path>) -> Vec<&Layer> {
        let mut layers = vec![&self.base];
        let Some(file) = file else {
            return layers;
        };
        let file = normalize(file);
        let Ok(relative) = file.strip_prefix(&self.dir) else {
            return layers;
        };
        layers.extend(
            self.overrides
                .iter()
                .filter(|o| o.globs.is_match(relative))
                .map(|o| &o.layer),
        );
        layers
    }
}

/// The configuration file that applies to files in `dir`: the first of
/// [`FILE_NAMES`] in `dir` or the nearest directory above it.
pub fn discover(dir: &Path) -> Option<PathBuf> {
    normalize(dir)
        .ancestors()
        .flat_map(|d| FILE_NAMES.iter().map(move |name| d.join(name)))
        .find(|p| p.is_file())
}

/// `path` made absolute with `.` and `..` removed, without touching the file
/// system (symbolic links are kept as written).
pub fn normalize(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut out = PathBuf::new();
    for component in absolute.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

fn sorted<'a, 'i>(
    mut keys: Vec<&'a Spanned<std::borrow::Cow<'i, str>>>,
) -> Vec<&'a Spanned<std::borrow::Cow<'i, str>>> {
    keys.sort_by_key(|k| k.span().start);
    keys
}

/// Walks the parsed document, collecting every error.
struct Reader<'a> {
    path: &'a Path,
    lines: LineIndex<'a>,
    errors: Vec<ConfigError>,
}

impl Reader<'_> {
    fn error(&mut self, offset: usize, message: impl Into<String>) {
        let (line, column) = self.lines.position(offset);
        self.errors.push(ConfigError {
            path: self.path.to_path_buf(),
            line,
            column,
            message: message.into(),
        });
    }

    fn unknown_key(
        &mut self,
        key: &Spanned<std::borrow::Cow<'_, str>>,
        known: &[&str],
        place: &str,
    ) {
        let name = key.get_ref();
        let hint = match closest(name, known.iter().copied()) {
            Some(k) => format!("; did you mean `{k}`?"),
            None => format!("; the keys are {}", quoted_list(known)),
        };
        self.error(
            key.span().start,
            format!("unknown key `{name}` in {place}{hint}"),
        );
    }

    /// The top-level settings: a layer and the overrides.
    fn settings(&mut self, table: &DeTable<'_>, place: &str) -> (Layer, Vec<Override>) {
        let mut layer = Layer::default();
        let mut overrides = Vec::new();
        for (key, value) in sorted_entries(table) {
            match key.get_ref().as_ref() {
                "overrides" => overrides = self.overrides(value),
                k if KEYS.contains(&k) => self.layer_key(&mut layer, k, value),
                _ => self.unknown_key(key, &KEYS, place),
            }
        }
        (layer, overrides)
    }

    /// One of the keys a layer has: `select`, `ignore`, `severity`, `fail-on`.
    fn layer_key(&mut self, layer: &mut Layer, key: &str, value: &Spanned<DeValue<'_>>) {
        match key {
            "select" => layer.select = Some(self.selectors(key, value)),
            "ignore" => layer.ignore = self.selectors(key, value),
            "severity" => layer.severity = self.severities(value),
            "fail-on" => match value.get_ref().as_str() {
                Some(text) => match FailOn::parse(text) {
                    Some(f) => layer.fail_on = Some(f),
                    None => self.error(
                        value.span().start,
                        format!("`fail-on` is {}, not `{text}`", quoted_list(&FailOn::NAMES)),
                    ),
                },
                None => self.error(
                    value.span().start,
                    format!(
                        "`fail-on` must be a string: {}",
                        quoted_list(&FailOn::NAMES)
                    ),
                ),
            },
            _ => unreachable!("only layer keys are passed"),
        }
    }

    fn selectors(&mut self, key: &str, value: &Spanned<DeValue<'_>>) -> Vec<Selector> {
        let Some(array) = value.get_ref().as_array() else {
            self.error(
                value.span().start,
                format!("`{key}` must be an array of lint names, codes, code prefixes or \"ALL\""),
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for item in array {
            match item.get_ref().as_str() {
                Some(text) => match Selector::parse(text) {
                    Ok(s) => out.push(s),
                    Err(e) => self.error(item.span().start, e.to_string()),
                },
                None => self.error(
                    item.span().start,
                    format!("`{key}` holds strings: lint names, codes, code prefixes or \"ALL\""),
                ),
            }
        }
        out
    }

    fn severities(&mut self, value: &Spanned<DeValue<'_>>) -> Vec<(Selector, Severity)> {
        let Some(table) = value.get_ref().as_table() else {
            self.error(
                value.span().start,
                "`severity` must be a table of lint = \"error\" | \"warning\" | \"info\"",
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for (key, level) in sorted_entries(table) {
            let selector = match Selector::parse(key.get_ref()) {
                Ok(s) => Some(s),
                Err(e) => {
                    self.error(key.span().start, e.to_string());
                    None
                }
            };
            let severity = match level.get_ref().as_str().and_then(Severity::parse) {
                Some(s) => Some(s),
                None => {
                    self.error(
                        level.span().start,
                        format!(
                            "the severity of `{}` is \"error\", \"warning\" or \"info\"",
                            key.get_ref()
                        ),
                    );
                    None
                }
            };
            if let (Some(selector), Some(severity)) = (selector, severity) {
                out.push((selector, severity));
            }
        }
        out
    }

    fn overrides(&mut self, value: &Spanned<DeValue<'_>>) -> Vec<Override> {
        let Some(array) = value.get_ref().as_array() else {
            self.error(
                value.span().start,
                "`overrides` must be an array of tables: write each as [[overrides]]",
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for item in array {
            let Some(table) = item.get_ref().as_table() else {
                self.error(item.span().start, "each of `overrides` must be a table");
                continue;
            };
            let mut layer = Layer::default();
            let mut globs = None;
            for (key, value) in sorted_entries(table) {
                match key.get_ref().as_ref() {
                    "paths" => globs = self.globs(value),
                    k if OVERRIDE_KEYS.contains(&k) => self.layer_key(&mut layer, k, value),
                    _ => self.unknown_key(key, &OVERRIDE_KEYS, "[[overrides]]"),
                }
            }
            match globs {
                Some(globs) => out.push(Override { globs, layer }),
                None if !table.contains_key("paths") => self.error(
                    item.span().start,
                    "an [[overrides]] table needs `paths`, the files it applies to",
                ),
                None => {}
            }
        }
        out
    }

    /// `paths`: globs relative to the configuration file's directory. A glob
    /// without `/` matches the file name in any directory (`*.v6`); `*`
    /// never crosses a `/`, `**` does.
    fn globs(&mut self, value: &Spanned<DeValue<'_>>) -> Option<GlobSet> {
        let Some(array) = value.get_ref().as_array() else {
            self.error(
                value.span().start,
                "`paths` must be an array of globs, such as [\"kube/*.rules\"]",
            );
            return None;
        };
        if array.is_empty() {
            self.error(
                value.span().start,
                "`paths` is empty: it would match no file",
            );
            return None;
        }
        let mut builder = GlobSetBuilder::new();
        let mut ok = true;
        for item in array {
            let Some(text) = item.get_ref().as_str() else {
                self.error(item.span().start, "`paths` holds strings (globs)");
                ok = false;
                continue;
            };
            let trimmed = text.trim_start_matches("./");
            let pattern = if trimmed.contains('/') {
                trimmed.trim_start_matches('/').to_string()
            } else {
                format!("**/{trimmed}")
            };
            match GlobBuilder::new(&pattern).literal_separator(true).build() {
                Ok(glob) => {
                    builder.add(glob);
                }
                Err(e) => {
                    self.error(
                        item.span().start,
                        format!("bad glob `{text}`: {}", e.kind()),
                    );
                    ok = false;
                }
            }
        }
        if !ok {
            return None;
        }
        match builder.build() {
            Ok(set) => Some(set),
            Err(e) => {
                self.error(value.span().start, format!("bad globs: {e}"));
                None
            }
        }
    }
}

/// A table's entries in the order they stand in the file (the parsed table
/// is sorted by key).
fn sorted_entries<'a, 'i>(
    table: &'a DeTable<'i>,
) -> Vec<(
    &'a Spanned<std::borrow::Cow<'i, str>>,
    &'a Spanned<DeValue<'i>>,
)> {
    let mut entries: Vec<_> = table.iter().collect();
    entries.sort_by_key(|(k, _)| k.span().start);
    entries
}

fn quoted_list(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("`{i}`")).collect();
    match quoted.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => quoted.join(""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codes;

    fn parse(text: &str) -> Result<Config, Vec<ConfigError>> {
        Config::parse(Path::new("/project/iptlint.toml"), text)
    }

    fn errors(text: &str) -> Vec<String> {
        parse(text)
            .expect_err("the configuration is refused")
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn reads_every_key() {
        let config = parse(
            r#"
select = ["ALL"]
ignore = ["IPT3", "duplicate-rule"]
fail-on = "error"

[severity]
unreachable-rule = "error"
IPT3 = "warning"

[[overrides]]
paths = ["kube/*.rules"]
ignore = ["unreachable-chain"]
fail-on = "never"
"#,
        )
        .unwrap();
        assert_eq!(config.base.select, Some(vec![Selector::All]));
        assert_eq!(config.base.ignore.len(), 2);
        assert_eq!(config.base.fail_on, Some(FailOn::Error));
        assert_eq!(config.base.severity.len(), 2);
        assert_eq!(config.overrides.len(), 1);

        let kube = config.layers_for(Some(Path::new("/project/kube/node1.rules")));
        assert_eq!(kube.len(), 2);
        let s = Settings::resolve(&kube);
        assert!(!s.enabled(&codes::UNREACHABLE_CHAIN));
        assert_eq!(s.fail_on, FailOn::Never);
        assert_eq!(s.severity(&codes::UNREACHABLE_RULE), Some(Severity::Error));

        for other in [
            "/project/host.rules",
            "/project/kube/a/b.rules",
            "/elsewhere/kube/x.rules",
        ] {
            assert_eq!(
                config.layers_for(Some(Path::new(other))).len(),
                1,
                "{other}"
            );
        }
        assert_eq!(config.layers_for(None).len(), 1);
    }

    #[test]
    fn a_glob_without_slash_matches_the_name_anywhere() {
        let config = parse("[[overrides]]\npaths = [\"*.v6\"]\nignore = [\"ALL\"]\n").unwrap();
        assert_eq!(
            config
                .layers_for(Some(Path::new("/project/a/b/rules.v6")))
                .len(),
            2
        );
        assert_eq!(
            config
                .layers_for(Some(Path::new("/project/rules.v6")))
                .len(),
            2
        );
        assert_eq!(
            config
                .layers_for(Some(Path::new("/project/rules.v4")))
                .len(),
            1
        );
    }

    #[test]
    fn reads_tool_iptlint() {
        let config = parse("[tool.iptlint]\nignore = [\"IPT2\"]\n[tool.other]\nx = 1\n").unwrap();
        assert_eq!(config.base.ignore, vec![Selector::Prefix("IPT2".into())]);
        let config = parse("[tool.other]\nx = 1\n").unwrap();
        assert!(config.base.is_empty());
        assert_eq!(
            errors("ignore = []\n[tool.iptlint]\nselect = []\n"),
            vec![
                "/project/iptlint.toml:1:1: `ignore` at the top level, while the settings are under [tool.iptlint]: keep them in one place"
            ]
        );
    }

    #[test]
    fn unknown_keys_are_errors_at_the_key() {
        assert_eq!(
            errors("select = [\"ALL\"]\nfail_on = \"error\"\n"),
            vec![
                "/project/iptlint.toml:2:1: unknown key `fail_on` in the configuration; did you mean `fail-on`?"
            ]
        );
        assert_eq!(
            errors("[[overrides]]\npaths = [\"a\"]\n  colour = 1\n"),
            vec![
                "/project/iptlint.toml:3:3: unknown key `colour` in [[overrides]]; the keys are `paths`, `select`, `ignore`, `severity` or `fail-on`"
            ]
        );
    }

    #[test]
    fn bad_values_are_errors_at_the_value_all_at_once() {
        let text = "select = [\"ALL\", \"duplicte-rule\"]\nignore = \"IPT2\"\nfail-on = \"sometimes\"\n[severity]\nIPT9 = \"error\"\nempty-chain = \"loud\"\n";
        assert_eq!(
            errors(text),
            vec![
                "/project/iptlint.toml:1:18: unknown lint `duplicte-rule`; did you mean `duplicate-rule`?",
                "/project/iptlint.toml:2:10: `ignore` must be an array of lint names, codes, code prefixes or \"ALL\"",
                "/project/iptlint.toml:3:11: `fail-on` is `error`, `warning`, `info` or `never`, not `sometimes`",
                "/project/iptlint.toml:5:1: unknown lint `IPT9`; did you mean `IPT009`?",
                "/project/iptlint.toml:6:15: the severity of `empty-chain` is \"error\", \"warning\" or \"info\"",
            ]
        );
    }

    #[test]
    fn overrides_need_paths_and_good_globs() {
        assert_eq!(
            errors("[[overrides]]\nignore = [\"ALL\"]\n"),
            vec![
                "/project/iptlint.toml:1:1: an [[overrides]] table needs `paths`, the files it applies to"
            ]
        );
        let e = errors("[[overrides]]\npaths = [\"a[\"]\n");
        assert!(
            e[0].starts_with("/project/iptlint.toml:2:10: bad glob `a[`"),
            "{e:?}"
        );
        assert_eq!(
            errors("overrides = 3\n"),
            vec![
                "/project/iptlint.toml:1:13: `overrides` must be an array of tables: write each as [[overrides]]"
            ]
        );
    }

    #[test]
    fn invalid_toml_is_an_error_with_its_position() {
        let e = errors("select = [\"ALL\"\nignore = 1\n");
        assert_eq!(e.len(), 1);
        assert!(e[0].starts_with("/project/iptlint.toml:"), "{e:?}");
        assert!(e[0].contains("not valid TOML"), "{e:?}");
        let e = errors("a = 1\na = 2\n");
        assert!(e[0].contains("not valid TOML"), "{e:?}");
    }

    #[test]
    fn normalize_removes_dots() {
        assert_eq!(normalize(Path::new("/a/./b/../c")), PathBuf::from("/a/c"));
    }
}
