//! A small writer of Windows registry hive files ("regf"), for test fixtures only: no tool on
//! Linux creates a hive from nothing. Its output is checked with hivex's `hivexget` (an
//! independent reader) before the agent reads it.
//!
//! Layout: the 4 KiB base block, then one hive bin holding every cell: key nodes (`nk`), one
//! security cell (`sk`) they share, subkey lists (`lh`, with the name hashes Windows uses),
//! value lists, values (`vk`) and their data; the bin's unused tail is one free cell.

use std::collections::BTreeMap;

/// A registry value's type and data.
#[derive(Debug, Clone)]
pub enum Data {
    Dword(u32),
    String(String),
    MultiString(Vec<String>),
}

impl Data {
    fn kind(&self) -> u32 {
        match self {
            Data::String(_) => 1,
            Data::Dword(_) => 4,
            Data::MultiString(_) => 7,
        }
    }

    fn bytes(&self) -> Vec<u8> {
        let utf16 = |s: &str| {
            s.encode_utf16()
                .flat_map(u16::to_le_bytes)
                .collect::<Vec<u8>>()
        };
        match self {
            Data::Dword(d) => d.to_le_bytes().to_vec(),
            Data::String(s) => [utf16(s), vec![0, 0]].concat(),
            Data::MultiString(v) => {
                let mut out = Vec::new();
                for s in v {
                    out.extend(utf16(s));
                    out.extend([0, 0]);
                }
                out.extend([0, 0]);
                out
            }
        }
    }
}

/// A key: its values and subkeys (kept sorted as Windows requires, by upper-case name).
#[derive(Debug, Default)]
pub struct Node {
    values: Vec<(String, Data)>,
    children: BTreeMap<String, (String, Node)>,
}

impl Node {
    /// The key at `path` (`A\B\C`), created as needed.
    pub fn key(&mut self, path: &str) -> &mut Node {
        let mut node = self;
        for part in path.split('\\').filter(|p| !p.is_empty()) {
            node = &mut node
                .children
                .entry(part.to_ascii_uppercase())
                .or_insert_with(|| (part.to_owned(), Node::default()))
                .1;
        }
        node
    }

    pub fn set(&mut self, name: &str, data: Data) {
        self.values.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.values.push((name.to_owned(), data));
    }
}

const NONE: u32 = 0xFFFF_FFFF;

struct Cells {
    /// The bin's contents after its 32-byte header. A cell's offset counts from the start of
    /// the bin (the first bin starts the hive's data), so the first cell is at 32.
    bytes: Vec<u8>,
}

impl Cells {
    /// Adds an allocated cell holding `data`; returns its offset.
    fn add(&mut self, data: &[u8]) -> u32 {
        let offset = 32 + self.bytes.len() as u32;
        let size = (4 + data.len()).div_ceil(8) * 8;
        self.bytes.extend((-(size as i32)).to_le_bytes());
        self.bytes.extend(data);
        self.bytes
            .resize(self.bytes.len() + size - 4 - data.len(), 0);
        offset
    }

    fn patch_u32(&mut self, offset: u32, at: usize, value: u32) {
        let pos = offset as usize - 32 + 4 + at;
        self.bytes[pos..pos + 4].copy_from_slice(&value.to_le_bytes());
    }
}

/// Windows's subkey name hash for `lh` lists.
fn name_hash(name: &str) -> u32 {
    name.to_ascii_uppercase()
        .bytes()
        .fold(0u32, |h, c| h.wrapping_mul(37).wrapping_add(u32::from(c)))
}

fn write_node(cells: &mut Cells, name: &str, node: &Node, parent: u32, sk: u32, root: bool) -> u32 {
    let mut nk = vec![0u8; 76];
    nk[0..2].copy_from_slice(b"nk");
    // KEY_COMP_NAME (ASCII name); the root is also KEY_HIVE_ENTRY | KEY_NO_DELETE.
    let flags: u16 = if root { 0x20 | 0x04 | 0x08 } else { 0x20 };
    nk[2..4].copy_from_slice(&flags.to_le_bytes());
    nk[16..20].copy_from_slice(&parent.to_le_bytes());
    nk[20..24].copy_from_slice(&(node.children.len() as u32).to_le_bytes());
    nk[28..32].copy_from_slice(&NONE.to_le_bytes());
    nk[32..36].copy_from_slice(&NONE.to_le_bytes());
    nk[36..40].copy_from_slice(&(node.values.len() as u32).to_le_bytes());
    nk[40..44].copy_from_slice(&NONE.to_le_bytes());
    nk[44..48].copy_from_slice(&sk.to_le_bytes());
    nk[48..52].copy_from_slice(&NONE.to_le_bytes());
    let longest = |it: &mut dyn Iterator<Item = usize>| it.max().unwrap_or(0) as u32;
    nk[52..56].copy_from_slice(
        &(longest(&mut node.children.values().map(|(n, _)| n.len() * 2))).to_le_bytes(),
    );
    nk[60..64].copy_from_slice(
        &(longest(&mut node.values.iter().map(|(n, _)| n.len() * 2))).to_le_bytes(),
    );
    nk[64..68].copy_from_slice(
        &(longest(&mut node.values.iter().map(|(_, d)| d.bytes().len()))).to_le_bytes(),
    );
    nk[72..74].copy_from_slice(&(name.len() as u16).to_le_bytes());
    nk.extend(name.as_bytes());
    let me = cells.add(&nk);

    if !node.values.is_empty() {
        let mut list = Vec::new();
        for (value_name, data) in &node.values {
            let bytes = data.bytes();
            let mut vk = vec![0u8; 20];
            vk[0..2].copy_from_slice(b"vk");
            vk[2..4].copy_from_slice(&(value_name.len() as u16).to_le_bytes());
            if bytes.len() <= 4 {
                vk[4..8].copy_from_slice(&(bytes.len() as u32 | 0x8000_0000).to_le_bytes());
                vk[8..8 + bytes.len()].copy_from_slice(&bytes);
            } else {
                let data_cell = cells.add(&bytes);
                vk[4..8].copy_from_slice(&(bytes.len() as u32).to_le_bytes());
                vk[8..12].copy_from_slice(&data_cell.to_le_bytes());
            }
            vk[12..16].copy_from_slice(&data.kind().to_le_bytes());
            vk[16..18].copy_from_slice(&1u16.to_le_bytes()); // VALUE_COMP_NAME
            vk.extend(value_name.as_bytes());
            list.extend(cells.add(&vk).to_le_bytes());
        }
        let list_cell = cells.add(&list);
        cells.patch_u32(me, 40, list_cell);
    }

    if !node.children.is_empty() {
        let mut entries = Vec::new();
        for (child_name, child) in node.children.values() {
            let child_cell = write_node(cells, child_name, child, me, sk, false);
            entries.push((child_cell, name_hash(child_name)));
        }
        let mut lh = Vec::new();
        lh.extend(b"lh");
        lh.extend((entries.len() as u16).to_le_bytes());
        for (offset, hash) in entries {
            lh.extend(offset.to_le_bytes());
            lh.extend(hash.to_le_bytes());
        }
        let list_cell = cells.add(&lh);
        cells.patch_u32(me, 28, list_cell);
    }
    me
}

/// The hive file for a tree whose root is `root`.
pub fn hive(root: &Node) -> Vec<u8> {
    let mut cells = Cells { bytes: Vec::new() };
    // One security descriptor for every key: owner and group Administrators, no DACL.
    let descriptor: Vec<u8> = {
        let admins = [1u8, 2, 0, 0, 0, 0, 0, 5, 32, 0, 0, 0, 32, 2, 0, 0];
        let mut sd = vec![1u8, 0, 0x04, 0x80]; // revision 1, SE_SELF_RELATIVE | SE_DACL_PRESENT
        sd.extend(20u32.to_le_bytes()); // owner
        sd.extend(36u32.to_le_bytes()); // group
        sd.extend(0u32.to_le_bytes()); // no SACL
        sd.extend(0u32.to_le_bytes()); // null DACL
        sd.extend(admins);
        sd.extend(admins);
        sd
    };
    let mut sk = vec![0u8; 20];
    sk[0..2].copy_from_slice(b"sk");
    sk[12..16].copy_from_slice(&1u32.to_le_bytes()); // reference count, patched below
    sk[16..20].copy_from_slice(&(descriptor.len() as u32).to_le_bytes());
    sk.extend(&descriptor);
    let sk_cell = cells.add(&sk);
    // The list of security cells is circular: this one links to itself.
    cells.patch_u32(sk_cell, 4, sk_cell);
    cells.patch_u32(sk_cell, 8, sk_cell);
    let root_cell = write_node(&mut cells, "ROOT", root, NONE, sk_cell, true);
    let keys = count_keys(root);
    cells.patch_u32(sk_cell, 12, keys);

    // The bin: header, cells, then the free remainder up to a 4 KiB multiple.
    let used = 32 + cells.bytes.len();
    // Cells are 8-byte aligned, so the free remainder is 0 or at least 8 bytes.
    let bin_size = used.div_ceil(4096) * 4096;
    let mut bin = Vec::with_capacity(bin_size);
    bin.extend(b"hbin");
    bin.extend(0u32.to_le_bytes());
    bin.extend((bin_size as u32).to_le_bytes());
    bin.resize(32, 0);
    bin.extend(&cells.bytes);
    let free = bin_size - bin.len();
    if free > 0 {
        bin.extend((free as i32).to_le_bytes());
        bin.resize(bin_size, 0);
    }

    let mut base = vec![0u8; 4096];
    base[0..4].copy_from_slice(b"regf");
    base[4..8].copy_from_slice(&1u32.to_le_bytes()); // primary sequence
    base[8..12].copy_from_slice(&1u32.to_le_bytes()); // secondary sequence (equal: clean)
    base[20..24].copy_from_slice(&1u32.to_le_bytes()); // major version
    base[24..28].copy_from_slice(&5u32.to_le_bytes()); // minor version
    base[32..36].copy_from_slice(&1u32.to_le_bytes()); // file format: direct memory load
    base[36..40].copy_from_slice(&root_cell.to_le_bytes());
    base[40..44].copy_from_slice(&(bin_size as u32).to_le_bytes());
    base[44..48].copy_from_slice(&1u32.to_le_bytes()); // clustering factor
    let checksum = base[..508].chunks_exact(4).fold(0u32, |x, w| {
        x ^ u32::from_le_bytes([w[0], w[1], w[2], w[3]])
    });
    let checksum = match checksum {
        0 => 1,
        0xFFFF_FFFF => 0xFFFF_FFFE,
        c => c,
    };
    base[508..512].copy_from_slice(&checksum.to_le_bytes());
    [base, bin].concat()
}

fn count_keys(node: &Node) -> u32 {
    1 + node
        .children
        .values()
        .map(|(_, c)| count_keys(c))
        .sum::<u32>()
}
