//! A read-only parser for Windows registry hive files (the "regf" format of
//! `Windows\System32\config\SYSTEM`, `SOFTWARE`, ...), for auditing a Windows volume that is
//! not running. Every offset in the file is checked before it is followed, so a damaged or
//! hostile hive gives an error, never a panic or an endless walk.
//!
//! Written here rather than taken from a crate: the maintained parsers are GPL-licensed
//! (nt-hive), pull in a forensic tool's dependencies (notatin), or index unchecked offsets
//! (regf 0.1). The format: a 4 KiB base block, then hive bins of cells; a cell is a signed
//! 32-bit size (negative when allocated) and its data. Keys are `nk` cells, subkey lists
//! `lf`/`lh`/`li`/`ri`, values `vk`, large data `db`. Offsets count from the first bin.

use super::Value;

const BASE_BLOCK: usize = 4096;
const NONE: u32 = 0xFFFF_FFFF;
/// Data larger than this is split into `db` segments (hive version 1.4 and later).
const BIG_DATA_SEGMENT: usize = 16344;
/// Limits that bound the work a hostile hive can cause.
const MAX_SUBKEYS: usize = 1 << 20;
const MAX_VALUES: usize = 1 << 16;
const MAX_DATA: usize = 16 * 1024 * 1024;

/// A hive held in memory.
pub struct Hive {
    data: Vec<u8>,
}

/// A key inside a hive (its cell offset).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key(u32);

fn damaged(what: &str) -> String {
    format!("the hive is damaged ({what})")
}

impl Hive {
    /// Checks the base block and keeps the bytes.
    pub fn new(data: Vec<u8>) -> Result<Self, String> {
        if data.len() < BASE_BLOCK + 32 || data.get(0..4) != Some(b"regf") {
            return Err("not a Windows registry hive (no regf signature)".into());
        }
        let hive = Self { data };
        if hive.u32_at(20)? != 1 {
            return Err("unsupported hive version".into());
        }
        Ok(hive)
    }

    fn u32_at(&self, pos: usize) -> Result<u32, String> {
        self.data
            .get(pos..pos + 4)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_le_bytes)
            .ok_or_else(|| damaged("read past its end"))
    }

    /// The data of the allocated cell at `offset`.
    fn cell(&self, offset: u32) -> Result<&[u8], String> {
        if offset == NONE {
            return Err(damaged("a missing cell is referenced"));
        }
        let pos = BASE_BLOCK
            .checked_add(offset as usize)
            .ok_or_else(|| damaged("cell offset"))?;
        let size = self.u32_at(pos)? as i32;
        // Allocated cells have a negative size; it includes the four size bytes.
        let len =
            size.checked_neg()
                .filter(|l| *l >= 8)
                .ok_or_else(|| damaged("a free or empty cell is referenced"))? as usize;
        self.data
            .get(pos + 4..pos + len)
            .ok_or_else(|| damaged("a cell runs past the end"))
    }

    fn cell_u16(cell: &[u8], at: usize) -> Result<u16, String> {
        cell.get(at..at + 2)
            .and_then(|b| b.try_into().ok())
            .map(u16::from_le_bytes)
            .ok_or_else(|| damaged("short cell"))
    }

    fn cell_u32(cell: &[u8], at: usize) -> Result<u32, String> {
        cell.get(at..at + 4)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_le_bytes)
            .ok_or_else(|| damaged("short cell"))
    }

    /// The root key.
    pub fn root(&self) -> Result<Key, String> {
        let key = Key(self.u32_at(36)?);
        self.key_cell(key)?;
        Ok(key)
    }

    fn key_cell(&self, key: Key) -> Result<&[u8], String> {
        let cell = self.cell(key.0)?;
        if cell.get(0..2) != Some(b"nk") {
            return Err(damaged("a key is not an nk cell"));
        }
        Ok(cell)
    }

    /// A name stored as Latin-1 (`compressed`) or UTF-16LE.
    fn name(bytes: &[u8], compressed: bool) -> String {
        if compressed {
            bytes.iter().map(|&b| char::from(b)).collect()
        } else {
            super::utf16le(bytes)
        }
    }

    /// The key's own name.
    pub fn key_name(&self, key: Key) -> Result<String, String> {
        let cell = self.key_cell(key)?;
        let flags = Self::cell_u16(cell, 2)?;
        let len = Self::cell_u16(cell, 72)? as usize;
        let bytes = cell.get(76..76 + len).ok_or_else(|| damaged("key name"))?;
        Ok(Self::name(bytes, flags & 0x20 != 0))
    }

    /// The key's subkeys, in the hive's order.
    pub fn subkeys(&self, key: Key) -> Result<Vec<Key>, String> {
        let cell = self.key_cell(key)?;
        let count = Self::cell_u32(cell, 20)? as usize;
        if count == 0 {
            return Ok(Vec::new());
        }
        if count > MAX_SUBKEYS {
            return Err(damaged("too many subkeys"));
        }
        let mut out = Vec::with_capacity(count.min(4096));
        self.collect_list(Self::cell_u32(cell, 28)?, &mut out, true)?;
        Ok(out)
    }

    /// Follows an `lf`/`lh`/`li` list, or an `ri` list of them (one level only, as Windows
    /// writes them).
    fn collect_list(
        &self,
        offset: u32,
        out: &mut Vec<Key>,
        allow_index: bool,
    ) -> Result<(), String> {
        let list = self.cell(offset)?;
        let count = Self::cell_u16(list, 2)? as usize;
        let (stride, nested) = match list.get(0..2) {
            Some(b"lf") | Some(b"lh") => (8, false),
            Some(b"li") => (4, false),
            Some(b"ri") if allow_index => (4, true),
            _ => return Err(damaged("unknown subkey list")),
        };
        for i in 0..count {
            let target = Self::cell_u32(list, 4 + i * stride)?;
            if nested {
                self.collect_list(target, out, false)?;
            } else {
                out.push(Key(target));
            }
            if out.len() > MAX_SUBKEYS {
                return Err(damaged("too many subkeys"));
            }
        }
        Ok(())
    }

    /// The subkey named `name` (ignoring ASCII case, as Windows does).
    pub fn subkey(&self, key: Key, name: &str) -> Result<Option<Key>, String> {
        for k in self.subkeys(key)? {
            if self.key_name(k)?.eq_ignore_ascii_case(name) {
                return Ok(Some(k));
            }
        }
        Ok(None)
    }

    /// The key at `path` (`Policies\Microsoft\Windows`), from `key`.
    pub fn open(&self, mut key: Key, path: &str) -> Result<Option<Key>, String> {
        for part in path.split('\\').filter(|p| !p.is_empty()) {
            match self.subkey(key, part)? {
                Some(k) => key = k,
                None => return Ok(None),
            }
        }
        Ok(Some(key))
    }

    /// The value named `name` of `key` (`""` is the key's default value).
    pub fn value(&self, key: Key, name: &str) -> Result<Option<Value>, String> {
        let cell = self.key_cell(key)?;
        let count = Self::cell_u32(cell, 36)? as usize;
        if count == 0 {
            return Ok(None);
        }
        if count > MAX_VALUES {
            return Err(damaged("too many values"));
        }
        let list = self.cell(Self::cell_u32(cell, 40)?)?;
        for i in 0..count {
            let vk = self.cell(Self::cell_u32(list, i * 4)?)?;
            if vk.get(0..2) != Some(b"vk") {
                return Err(damaged("a value is not a vk cell"));
            }
            let name_len = Self::cell_u16(vk, 2)? as usize;
            let flags = Self::cell_u16(vk, 16)?;
            let raw_name = vk
                .get(20..20 + name_len)
                .ok_or_else(|| damaged("value name"))?;
            if Self::name(raw_name, flags & 1 != 0).eq_ignore_ascii_case(name) {
                return self.value_data(vk).map(Some);
            }
        }
        Ok(None)
    }

    fn value_data(&self, vk: &[u8]) -> Result<Value, String> {
        let size = Self::cell_u32(vk, 4)?;
        let kind = Self::cell_u32(vk, 12)?;
        let bytes = if size & 0x8000_0000 != 0 {
            // Up to four bytes kept in the offset field itself.
            let len = (size & 0x7FFF_FFFF) as usize;
            vk.get(8..8 + len.min(4))
                .ok_or_else(|| damaged("inline data"))?
                .to_vec()
        } else {
            self.stored_data(Self::cell_u32(vk, 8)?, size as usize)?
        };
        Ok(Value::from_raw(kind, &bytes))
    }

    fn stored_data(&self, offset: u32, size: usize) -> Result<Vec<u8>, String> {
        if size == 0 {
            return Ok(Vec::new());
        }
        if size > MAX_DATA {
            return Err(damaged("value data too large"));
        }
        let cell = self.cell(offset)?;
        if size > BIG_DATA_SEGMENT && cell.get(0..2) == Some(b"db") {
            let segments = Self::cell_u16(cell, 2)? as usize;
            let list = self.cell(Self::cell_u32(cell, 4)?)?;
            let mut out = Vec::with_capacity(size);
            for i in 0..segments {
                let segment = self.cell(Self::cell_u32(list, i * 4)?)?;
                let take = (size - out.len()).min(BIG_DATA_SEGMENT).min(segment.len());
                out.extend_from_slice(&segment[..take]);
                if out.len() >= size {
                    break;
                }
            }
            return Ok(out);
        }
        cell.get(..size)
            .map(<[u8]>::to_vec)
            .ok_or_else(|| damaged("value data runs past its cell"))
    }
}
