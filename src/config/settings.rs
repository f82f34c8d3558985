//! Turning layers of selectors into what applies to one file: for each lint,
//! on or off and its severity, and the `fail-on` threshold.
//!
//! Layers are read in order, lowest priority first: the defaults, the config
//! file, the config's `[[overrides]]` that match the file (in file order),
//! then the command line. As in ruff, a layer that has `select` starts the
//! selection afresh (what lower layers selected or ignored no longer counts);
//! a layer with only `ignore` turns lints off on top of what it inherits.
//! Within one layer the most specific matching selector decides, and on a tie
//! between `select` and `ignore`, `ignore` wins.

use crate::codes::{self, Lint};
use crate::diagnostic::Severity;

use super::selector::Selector;

/// The lowest severity that makes the exit status 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailOn {
    Error,
    Warning,
    Info,
    Never,
}

impl FailOn {
    pub const NAMES: [&'static str; 4] = ["error", "warning", "info", "never"];

    pub fn parse(text: &str) -> Option<FailOn> {
        match text {
            "error" => Some(FailOn::Error),
            "warning" => Some(FailOn::Warning),
            "info" => Some(FailOn::Info),
            "never" => Some(FailOn::Never),
            _ => None,
        }
    }

    /// The severity at and above which a finding fails the run.
    pub fn threshold(self) -> Option<Severity> {
        match self {
            FailOn::Error => Some(Severity::Error),
            FailOn::Warning => Some(Severity::Warning),
            FailOn::Info => Some(Severity::Info),
            FailOn::Never => None,
        }
    }
}

/// One source of settings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Layer {
    /// `None`: this layer does not select (it keeps what it inherits).
    pub select: Option<Vec<Selector>>,
    pub ignore: Vec<Selector>,
    /// In order; within a layer the most specific selector wins, and on a
    /// tie the later one.
    pub severity: Vec<(Selector, Severity)>,
    pub fail_on: Option<FailOn>,
}

impl Layer {
    pub fn is_empty(&self) -> bool {
        *self == Layer::default()
    }
}

/// What applies to one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// Indexed like [`codes::ALL`].
    enabled: Vec<bool>,
    /// A severity the user set, indexed like [`codes::ALL`].
    severity: Vec<Option<Severity>>,
    pub fail_on: FailOn,
}

impl Default for Settings {
    /// Every lint on at its own severity; fail on warnings.
    fn default() -> Settings {
        Settings::resolve(&[])
    }
}

/// The most specific selector in `selectors` that matches `lint`.
fn best<'a>(selectors: impl IntoIterator<Item = &'a Selector>, lint: &Lint) -> Option<usize> {
    selectors
        .into_iter()
        .filter(|s| s.matches(lint))
        .map(Selector::specificity)
        .max()
}

impl Settings {
    pub fn resolve(layers: &[&Layer]) -> Settings {
        let mut settings = Settings {
            enabled: vec![true; codes::ALL.len()],
            severity: vec![None; codes::ALL.len()],
            fail_on: FailOn::Warning,
        };
        for layer in layers {
            for (i, lint) in codes::ALL.iter().enumerate() {
                let ignored = best(&layer.ignore, lint);
                settings.enabled[i] = match &layer.select {
                    Some(select) => match (best(select, lint), ignored) {
                        (None, _) => false,
                        (Some(s), Some(g)) => s > g,
                        (Some(_), None) => true,
                    },
                    None => settings.enabled[i] && ignored.is_none(),
                };
                let mut chosen: Option<(usize, Severity)> = None;
                for (selector, level) in &layer.severity {
                    if selector.matches(lint)
                        && chosen.is_none_or(|(s, _)| selector.specificity() >= s)
                    {
                        chosen = Some((selector.specificity(), *level));
                    }
                }
                if let Some((_, level)) = chosen {
                    settings.severity[i] = Some(level);
                }
            }
            if let Some(fail_on) = layer.fail_on {
                settings.fail_on = fail_on;
            }
        }
        settings
    }

    fn index(lint: &Lint) -> usize {
        codes::ALL
            .iter()
            .position(|l| l.code == lint.code)
            .expect("every lint is in the catalogue")
    }

    pub fn enabled(&self, lint: &Lint) -> bool {
        self.enabled[Self::index(lint)]
    }

    /// The severity the user gave this lint, if any.
    pub fn severity(&self, lint: &Lint) -> Option<Severity> {
        self.severity[Self::index(lint)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel(list: &[&str]) -> Vec<Selector> {
        list.iter().map(|s| Selector::parse(s).unwrap()).collect()
    }

    fn layer(select: Option<&[&str]>, ignore: &[&str]) -> Layer {
        Layer {
            select: select.map(sel),
            ignore: sel(ignore),
            ..Layer::default()
        }
    }

    fn on(settings: &Settings, key: &str) -> bool {
        settings.enabled(codes::find(key).unwrap())
    }

    #[test]
    fn everything_is_on_by_default() {
        let s = Settings::default();
        assert!(codes::ALL.iter().all(|l| s.enabled(l)));
        assert_eq!(s.fail_on, FailOn::Warning);
    }

    #[test]
    fn the_more_specific_selector_wins() {
        let s = Settings::resolve(&[&layer(Some(&["IPT2"]), &["IPT203"])]);
        assert!(on(&s, "unreachable-rule"));
        assert!(!on(&s, "duplicate-rule"));
        assert!(!on(&s, "empty-chain"));

        let s = Settings::resolve(&[&layer(Some(&["duplicate-rule"]), &["IPT2"])]);
        assert!(on(&s, "duplicate-rule"));
        assert!(!on(&s, "unreachable-rule"));

        let s = Settings::resolve(&[&layer(Some(&["IPT20"]), &["IPT2"])]);
        assert!(on(&s, "IPT202"));

        let s = Settings::resolve(&[&layer(Some(&["IPT2"]), &["IPT20"])]);
        assert!(!on(&s, "IPT202"));

        let s = Settings::resolve(&[&layer(Some(&["IPT2"]), &["ALL"])]);
        assert!(on(&s, "IPT202"));
        assert!(!on(&s, "IPT101"));
    }

    #[test]
    fn ignore_wins_a_tie() {
        let s = Settings::resolve(&[&layer(Some(&["IPT2"]), &["IPT2"])]);
        assert!(!on(&s, "IPT202"));
        let s = Settings::resolve(&[&layer(Some(&["IPT203"]), &["duplicate-rule"])]);
        assert!(!on(&s, "IPT203"));
    }

    #[test]
    fn a_later_select_starts_afresh_and_a_later_ignore_adds() {
        let config = layer(Some(&["ALL"]), &["duplicate-rule"]);
        let cli_select = layer(Some(&["IPT2"]), &[]);
        let s = Settings::resolve(&[&config, &cli_select]);
        assert!(on(&s, "duplicate-rule"));
        assert!(!on(&s, "IPT101"));

        let cli_ignore = layer(None, &["IPT1"]);
        let s = Settings::resolve(&[&config, &cli_ignore]);
        assert!(!on(&s, "duplicate-rule"));
        assert!(!on(&s, "IPT101"));
        assert!(on(&s, "IPT202"));
    }

    #[test]
    fn severity_most_specific_then_later_layer() {
        let config = Layer {
            severity: vec![
                (Selector::parse("duplicate-rule").unwrap(), Severity::Info),
                (Selector::parse("IPT2").unwrap(), Severity::Error),
            ],
            ..Layer::default()
        };
        let s = Settings::resolve(&[&config]);
        assert_eq!(s.severity(&codes::DUPLICATE_RULE), Some(Severity::Info));
        assert_eq!(s.severity(&codes::UNREACHABLE_RULE), Some(Severity::Error));
        assert_eq!(s.severity(&codes::CHAIN_LOOP), None);

        let cli = Layer {
            severity: vec![(Selector::All, Severity::Warning)],
            fail_on: Some(FailOn::Never),
            ..Layer::default()
        };
        let s = Settings::resolve(&[&config, &cli]);
        assert_eq!(s.severity(&codes::DUPLICATE_RULE), Some(Severity::Warning));
        assert_eq!(s.fail_on, FailOn::Never);
    }
}
