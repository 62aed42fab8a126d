//! The Windows registry as the checks read it: the running system's (through the Windows API)
//! or a mounted volume's, from its hive files (`Windows\System32\config\*`), so a Windows image
//! can be audited from Linux. Key paths are written as in `reg.exe`:
//! `HKLM\SOFTWARE\Policies\Microsoft\Windows\...`; `CurrentControlSet` is resolved offline
//! through `SYSTEM\Select\Current`, as Windows does at boot.

pub mod hive;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use hive::Hive;

/// A registry value's data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// REG_SZ and REG_EXPAND_SZ.
    String(String),
    MultiString(Vec<String>),
    Dword(u32),
    Qword(u64),
    Binary(Vec<u8>),
}

/// UTF-16LE bytes as text (an odd last byte is dropped; unpaired surrogates become U+FFFD):
/// how Windows stores registry strings and names, and how its tools write their files.
pub fn utf16le(bytes: &[u8]) -> String {
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    String::from_utf16_lossy(&units)
}

impl Value {
    /// Decodes a value of registry type `kind` (REG_SZ 1, REG_EXPAND_SZ 2, REG_BINARY 3,
    /// REG_DWORD 4, REG_DWORD_BIG_ENDIAN 5, REG_MULTI_SZ 7, REG_QWORD 11).
    pub fn from_raw(kind: u32, bytes: &[u8]) -> Value {
        let word = |b: &[u8]| b.get(..4).and_then(|w| <[u8; 4]>::try_from(w).ok());
        match kind {
            1 | 2 => Value::String(utf16le(bytes).trim_end_matches('\0').to_owned()),
            7 => Value::MultiString(
                utf16le(bytes)
                    .split('\0')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
            ),
            4 => word(bytes).map_or(Value::Binary(bytes.to_vec()), |w| {
                Value::Dword(u32::from_le_bytes(w))
            }),
            5 => word(bytes).map_or(Value::Binary(bytes.to_vec()), |w| {
                Value::Dword(u32::from_be_bytes(w))
            }),
            11 => bytes
                .get(..8)
                .and_then(|w| <[u8; 8]>::try_from(w).ok())
                .map_or(Value::Binary(bytes.to_vec()), |w| {
                    Value::Qword(u64::from_le_bytes(w))
                }),
            _ => Value::Binary(bytes.to_vec()),
        }
    }

    /// The value as rules compare it: numbers in decimal, lists joined with commas, binary
    /// data in hex.
    pub fn as_text(&self) -> String {
        match self {
            Value::String(s) => s.clone(),
            Value::MultiString(v) => v.join(","),
            Value::Dword(d) => d.to_string(),
            Value::Qword(q) => q.to_string(),
            Value::Binary(b) => b.iter().map(|x| format!("{x:02x}")).collect(),
        }
    }
}

/// Splits `HKLM\SOFTWARE\Policies\X` into the hive file's name and the path inside it.
fn hive_of(key: &str) -> Result<(&'static str, &str), String> {
    let (root, rest) = key.split_once('\\').unwrap_or((key, ""));
    if !matches!(
        root.to_ascii_uppercase().as_str(),
        "HKLM" | "HKEY_LOCAL_MACHINE"
    ) {
        return Err(format!(
            "{key}: only HKEY_LOCAL_MACHINE keys can be audited"
        ));
    }
    let (hive, inner) = rest.split_once('\\').unwrap_or((rest, ""));
    let file = match hive.to_ascii_uppercase().as_str() {
        "SYSTEM" => "SYSTEM",
        "SOFTWARE" => "SOFTWARE",
        "SECURITY" => "SECURITY",
        "SAM" => "SAM",
        _ => return Err(format!("{key}: no hive file holds HKLM\\{hive}")),
    };
    Ok((file, inner))
}

/// A hive file as read (or why it could not be).
type Loaded = Arc<Result<Hive, String>>;

/// The hives of a mounted Windows volume, each read once per scan.
#[derive(Clone, Default)]
pub struct OfflineRegistry {
    loaded: Arc<Mutex<HashMap<&'static str, Loaded>>>,
}

/// The largest hive file read (a real SOFTWARE hive is tens of megabytes).
const MAX_HIVE: u64 = 512 * 1024 * 1024;

impl std::fmt::Debug for OfflineRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OfflineRegistry")
    }
}

/// `parts` under `base`, matching each name regardless of case (a Windows volume mounted on
/// Linux keeps Windows's spelling, `System32` or `system32`).
pub fn find_ignoring_case(base: &Path, parts: &[&str]) -> Option<PathBuf> {
    let mut path = base.to_path_buf();
    for part in parts {
        let exact = path.join(part);
        if exact.exists() {
            path = exact;
            continue;
        }
        let found = std::fs::read_dir(&path)
            .ok()?
            .filter_map(|e| e.ok())
            .find(|e| e.file_name().to_string_lossy().eq_ignore_ascii_case(part))?;
        path = found.path();
    }
    Some(path)
}

impl OfflineRegistry {
    fn hive(&self, base: &Path, file: &'static str) -> Loaded {
        let mut loaded = match self.loaded.lock() {
            Ok(l) => l,
            Err(poisoned) => poisoned.into_inner(),
        };
        loaded
            .entry(file)
            .or_insert_with(|| Arc::new(load(base, file)))
            .clone()
    }

    /// Runs `f` on `key` of the volume at `base`; `None` when the key does not exist.
    fn with_key<T>(
        &self,
        base: &Path,
        key: &str,
        f: impl FnOnce(&Hive, hive::Key) -> Result<T, String>,
    ) -> Result<Option<T>, String> {
        let (file, inner) = hive_of(key)?;
        let loaded = self.hive(base, file);
        let hive = loaded.as_ref().as_ref().map_err(Clone::clone)?;
        let inner = if file == "SYSTEM" {
            resolve_control_set(hive, inner)?
        } else {
            inner.to_owned()
        };
        match hive.open(hive.root()?, &inner)? {
            Some(k) => f(hive, k).map(Some),
            None => Ok(None),
        }
    }

    /// The value `name` of `key` on the volume at `base`; `None` when the key or value does
    /// not exist.
    pub fn value(&self, base: &Path, key: &str, name: &str) -> Result<Option<Value>, String> {
        Ok(self
            .with_key(base, key, |hive, k| hive.value(k, name))?
            .flatten())
    }

    /// The names of the subkeys of `key` (for rules over every subkey, such as each network
    /// interface).
    pub fn subkeys(&self, base: &Path, key: &str) -> Result<Option<Vec<String>>, String> {
        self.with_key(base, key, |hive, k| {
            hive.subkeys(k)?
                .into_iter()
                .map(|s| hive.key_name(s))
                .collect()
        })
    }
}

fn load(base: &Path, file: &str) -> Result<Hive, String> {
    let path =
        find_ignoring_case(base, &["Windows", "System32", "config", file]).ok_or_else(|| {
            format!("the volume has no {file} hive (Windows\\System32\\config\\{file})")
        })?;
    let len = std::fs::metadata(&path)
        .map_err(|e| format!("cannot read the {file} hive: {e}"))?
        .len();
    if len > MAX_HIVE {
        return Err(format!("the {file} hive is larger than {MAX_HIVE} bytes"));
    }
    let bytes = std::fs::read(&path).map_err(|e| format!("cannot read the {file} hive: {e}"))?;
    Hive::new(bytes).map_err(|e| format!("{file}: {e}"))
}

/// `CurrentControlSet\...` → `ControlSet001\...`, as `Select\Current` says.
fn resolve_control_set(hive: &Hive, inner: &str) -> Result<String, String> {
    let (first, rest) = inner.split_once('\\').unwrap_or((inner, ""));
    if !first.eq_ignore_ascii_case("CurrentControlSet") {
        return Ok(inner.to_owned());
    }
    let select = hive
        .open(hive.root()?, "Select")?
        .ok_or("the SYSTEM hive has no Select key")?;
    let current = match hive.value(select, "Current")? {
        Some(Value::Dword(n)) if (1..=999).contains(&n) => n,
        _ => return Err("the SYSTEM hive's Select\\Current is not a control set number".into()),
    };
    Ok(format!("ControlSet{current:03}\\{rest}"))
}
