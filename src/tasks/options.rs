//! Task options: the `[task]` table of a preset, overridden by `--set task.KEY=VALUE`, read
//! strictly into the task's own options struct (unknown keys and wrong types are errors naming
//! the key), and documented by one [`OptionDoc`] per field so `pretext tasks` can list them.

use serde::de::DeserializeOwned;

use super::TaskError;

/// One documented option of a task.
#[derive(Debug, Clone, Copy)]
pub struct OptionDoc {
    /// The key in the `[task]` table.
    pub key: &'static str,
    /// What it does, in one or two sentences.
    pub help: &'static str,
}

/// Reads a task's options from its table.
pub fn parse_options<T: DeserializeOwned>(task: &str, table: &toml::Table) -> Result<T, TaskError> {
    toml::Value::Table(table.clone()).try_into().map_err(|e: toml::de::Error| TaskError::Options {
        task: task.to_string(),
        reason: e.message().trim().to_string(),
    })
}

/// Applies one `KEY=VALUE` assignment to `root`, where KEY is dotted (`task.objective`,
/// `train.lr`, `head.kind`): intermediate tables are created, and VALUE is read as a TOML value
/// (`true`, `0.5`, `[1, 2]`, `"text"`) or, when it is not one, as a bare string
/// (`negatives=easy,hard`).
pub fn apply_set(root: &mut toml::Table, assignment: &str) -> Result<(), String> {
    let (key, value) = assignment
        .split_once('=')
        .ok_or_else(|| format!("--set {assignment}: expected KEY=VALUE, e.g. task.gap=10"))?;
    let key = key.trim();
    let parts: Vec<&str> = key.split('.').map(str::trim).collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(format!("--set {assignment}: empty key part in '{key}'"));
    }
    let value = value.trim();
    let parsed = toml::from_str::<toml::Table>(&format!("v = {value}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(value.to_string()));
    let (last, path) = parts.split_last().ok_or_else(|| format!("--set {assignment}: no key"))?;
    let mut table = root;
    for p in path {
        let entry =
            table.entry(p.to_string()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
        table = entry
            .as_table_mut()
            .ok_or_else(|| format!("--set {assignment}: '{p}' is a value, not a table"))?;
    }
    table.insert(last.to_string(), parsed);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize, Default, PartialEq)]
    #[serde(default, deny_unknown_fields)]
    struct Opts {
        gap: u32,
        ratio: f64,
        name: String,
        on: bool,
    }

    #[test]
    fn sets_build_tables_and_values_parse_as_toml_or_strings() {
        let mut root = toml::Table::new();
        apply_set(&mut root, "task.gap=10").unwrap();
        apply_set(&mut root, "task.ratio = 0.5").unwrap();
        apply_set(&mut root, "task.name=easy,hard").unwrap();
        apply_set(&mut root, "task.on=true").unwrap();
        let t = root["task"].as_table().unwrap();
        let o: Opts = parse_options("t", t).unwrap();
        assert_eq!(o, Opts { gap: 10, ratio: 0.5, name: "easy,hard".into(), on: true });
        assert!(apply_set(&mut root, "task").unwrap_err().contains("KEY=VALUE"));
        assert!(apply_set(&mut root, "task.gap.x=1").unwrap_err().contains("not a table"));
        assert!(apply_set(&mut root, "task..x=1").unwrap_err().contains("empty"));
        let mut bad = toml::Table::new();
        apply_set(&mut bad, "gapp=1").unwrap();
        let err = parse_options::<Opts>("t", &bad).unwrap_err().to_string();
        assert!(err.contains("gapp"), "{err}");
        let mut bad = toml::Table::new();
        apply_set(&mut bad, "gap=-1").unwrap();
        assert!(parse_options::<Opts>("t", &bad).is_err());
    }
}
