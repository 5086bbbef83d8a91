//! cosign's Rego policies for attestations (`verify-attestation --policy FILE.rego`): every
//! policy file is loaded into one interpreter, each verified statement is the `input`, and the
//! query `data.signature.allow` must be exactly `true` (OPA's "allowed": one result, the value
//! true). Policies are read in Rego v0 syntax, as cosign's OPA reads them (`allow { … }`).
//!
//! cosign passes its typed view of a statement of a known predicate type (a few fields of SLSA
//! 0.2, SPDX, CycloneDX…) and the whole statement for the others; sigmirror always passes the
//! whole statement, so a policy over the fields cosign keeps sees the same values.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::error::{Error, Result};

/// The query cosign evaluates.
pub const QUERY: &str = "data.signature.allow";

/// Rego policy files, parsed once.
#[derive(Clone)]
pub struct RegoPolicies {
    engine: regorus::Engine,
    files: Vec<PathBuf>,
}

impl std::fmt::Debug for RegoPolicies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegoPolicies")
            .field("files", &self.files)
            .finish()
    }
}

impl RegoPolicies {
    /// Reads and parses `files`; a file that does not parse is an error naming it.
    pub fn load(files: &[PathBuf]) -> Result<Self> {
        let mut engine = regorus::Engine::new();
        engine.set_rego_v0(true);
        for file in files {
            let text = std::fs::read_to_string(file).map_err(|e| Error::Policy {
                reason: format!("cannot read {}: {e}", file.display()),
            })?;
            engine
                .add_policy(file.display().to_string(), text)
                .map_err(|e| Error::Policy {
                    reason: format!("{}: {e}", file.display()),
                })?;
        }
        Ok(RegoPolicies {
            engine,
            files: files.to_vec(),
        })
    }

    /// The policy files.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// Whether `data.signature.allow` is `true` for `statement` as input; otherwise the
    /// reason, as cosign words it.
    pub fn check(&self, statement: &Value) -> Result<()> {
        let mut engine = self.engine.clone();
        let input =
            regorus::Value::from_json_str(&statement.to_string()).map_err(|e| Error::Policy {
                reason: format!("the statement is not valid policy input: {e}"),
            })?;
        engine.set_input(input);
        let results = engine
            .eval_query(QUERY.to_owned(), false)
            .map_err(|e| Error::Policy {
                reason: format!("evaluating {QUERY}: {e}"),
            })?;
        let values: Vec<&regorus::Value> = results
            .result
            .iter()
            .filter(|r| r.bindings.as_object().map_or(true, |b| b.is_empty()))
            .flat_map(|r| r.expressions.iter().map(|e| &e.value))
            .collect();
        match values.as_slice() {
            [regorus::Value::Bool(true)] if results.result.len() == 1 => Ok(()),
            [] => Err(Error::PolicyNotMet {
                reason: format!("result is undefined for query '{QUERY}'"),
            }),
            values => Err(Error::PolicyNotMet {
                reason: values
                    .iter()
                    .map(|v| format!("expression value, {v}, is not true"))
                    .collect::<Vec<_>>()
                    .join("; "),
            }),
        }
    }
}

impl RegoPolicies {
    /// Checks every statement (cosign applies the policies to each attestation of the type
    /// asked for, and all must pass); the error counts and lists the failures.
    pub fn check_all<'a>(&self, statements: impl IntoIterator<Item = &'a Value>) -> Result<()> {
        let failures: Vec<String> = statements
            .into_iter()
            .filter_map(|s| self.check(s).err())
            .map(|e| e.to_string())
            .collect();
        if failures.is_empty() {
            return Ok(());
        }
        Err(Error::PolicyNotMet {
            reason: format!(
                "{} validation errors occurred: {}",
                failures.len(),
                failures.join("; ")
            ),
        })
    }
}

/// Whether `file` is a policy of a language sigmirror cannot evaluate (CUE), as cosign tells
/// them apart: by extension. Such a policy is refused, never skipped.
pub fn refuse_unsupported(file: &Path) -> Result<()> {
    match file.extension().and_then(|e| e.to_str()) {
        Some("rego") => Ok(()),
        Some("cue") => Err(Error::Policy {
            reason: format!(
                "{}: CUE policies cannot be evaluated here: sigmirror has no CUE evaluator \
                 (cosign embeds cuelang.org/go); write the policy in Rego (.rego), which is \
                 evaluated",
                file.display()
            ),
        }),
        _ => Err(Error::Policy {
            reason: format!(
                "{}: invalid policy format, expected .cue or .rego",
                file.display()
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policies(text: &str) -> (tempfile::TempDir, RegoPolicies) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("p.rego");
        std::fs::write(&file, text).unwrap();
        let loaded = RegoPolicies::load(&[file]).unwrap();
        (dir, loaded)
    }

    #[test]
    fn allow_must_be_exactly_true() {
        let statement = serde_json::json!({"predicate": {"builder": {"id": "2"}}});
        let (_d, p) =
            policies("package signature\nallow { input.predicate.builder.id == \"2\" }\n");
        p.check(&statement).unwrap();
        let (_d, p) =
            policies("package signature\nallow { input.predicate.builder.id == \"3\" }\n");
        assert!(
            p.check(&statement)
                .unwrap_err()
                .to_string()
                .contains("undefined")
        );
        let (_d, p) = policies("package signature\nallow = \"yes\"\n");
        assert!(
            p.check(&statement)
                .unwrap_err()
                .to_string()
                .contains("is not true")
        );
        let (_d, p) = policies("package other\nallow = true\n");
        assert!(p.check(&statement).is_err());
    }

    #[test]
    fn cue_and_unknown_policies_are_refused() {
        assert!(refuse_unsupported(Path::new("p.rego")).is_ok());
        assert!(
            refuse_unsupported(Path::new("p.cue"))
                .unwrap_err()
                .to_string()
                .contains("CUE")
        );
        assert!(refuse_unsupported(Path::new("p.json")).is_err());
    }
}
