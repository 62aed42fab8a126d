//! The OS layer on Windows. This is the agent's one module allowed `unsafe`: the Win32 calls
//! for access lists, Job Objects, token queries and DPAPI have no safe wrapper crate the
//! project trusts, so each call is wrapped here in a safe function, every `unsafe` block
//! saying why it is sound.
#![allow(unsafe_code)]

use std::ffi::c_void;
use std::os::windows::ffi::OsStrExt;
use std::os::windows::io::FromRawHandle;
use std::path::{Path, PathBuf};

use windows_sys::Win32::Foundation::{
    CloseHandle, ERROR_FILE_NOT_FOUND, ERROR_MORE_DATA, ERROR_NO_MORE_ITEMS, ERROR_PATH_NOT_FOUND,
    ERROR_SUCCESS, GENERIC_READ, GENERIC_WRITE, HANDLE, HLOCAL, INVALID_HANDLE_VALUE, LocalFree,
};
use windows_sys::Win32::Security::Authorization::{
    ConvertSidToStringSidW, ConvertStringSecurityDescriptorToSecurityDescriptorW,
    EXPLICIT_ACCESS_W, GetNamedSecurityInfoW, NO_MULTIPLE_TRUSTEE, SDDL_REVISION_1, SE_FILE_OBJECT,
    SET_ACCESS, SetEntriesInAclW, SetNamedSecurityInfoW, TRUSTEE_IS_SID, TRUSTEE_IS_USER,
    TRUSTEE_W,
};
use windows_sys::Win32::Security::Cryptography::{
    CRYPT_INTEGER_BLOB, CRYPTPROTECT_LOCAL_MACHINE, CRYPTPROTECT_UI_FORBIDDEN, CryptProtectData,
    CryptUnprotectData,
};
use windows_sys::Win32::Security::{
    ACCESS_ALLOWED_ACE, ACE_HEADER, ACL, ACL_SIZE_INFORMATION, AclSizeInformation,
    DACL_SECURITY_INFORMATION, EqualSid, GetAce, GetAclInformation, GetTokenInformation,
    IsWellKnownSid, LookupAccountSidW, NO_INHERITANCE, OWNER_SECURITY_INFORMATION,
    PROTECTED_DACL_SECURITY_INFORMATION, PSECURITY_DESCRIPTOR, PSID, SECURITY_ATTRIBUTES,
    SUB_CONTAINERS_AND_OBJECTS_INHERIT, TOKEN_ELEVATION, TOKEN_QUERY, TOKEN_USER, TokenElevation,
    TokenUser, WinBuiltinAdministratorsSid, WinLocalSystemSid,
};
use windows_sys::Win32::Storage::FileSystem::{
    CREATE_NEW, CreateDirectoryW, CreateFileW, FILE_ALL_ACCESS, FILE_ATTRIBUTE_NORMAL,
    FILE_SHARE_DELETE, FILE_SHARE_READ, FILE_SHARE_WRITE,
};
use windows_sys::Win32::System::JobObjects::{
    AssignProcessToJobObject, CreateJobObjectW, JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE,
    JOBOBJECT_EXTENDED_LIMIT_INFORMATION, JobObjectExtendedLimitInformation,
    SetInformationJobObject, TerminateJobObject,
};
use windows_sys::Win32::System::Registry::{
    HKEY, HKEY_LOCAL_MACHINE, KEY_READ, KEY_WOW64_64KEY, RegCloseKey, RegEnumKeyExW, RegOpenKeyExW,
    RegQueryValueExW,
};
use windows_sys::Win32::System::SystemServices::ACCESS_ALLOWED_ACE_TYPE;
use windows_sys::Win32::System::Threading::{GetCurrentProcess, OpenProcessToken};

use super::{Access, RemoveOnDrop, Script, UnixMode};
use crate::exec::Command;

pub const CONFIG_NAME: &str = "config.json";

fn program_data() -> PathBuf {
    std::env::var_os("ProgramData")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(r"C:\ProgramData"))
}

pub fn data_dir() -> PathBuf {
    program_data().join("Tater").join("Agent")
}

pub fn state_dir() -> PathBuf {
    data_dir()
}

pub fn system_root() -> PathBuf {
    let drive = std::env::var("SystemDrive").unwrap_or_else(|_| "C:".into());
    PathBuf::from(format!("{drive}\\"))
}

/// A NUL-terminated UTF-16 path for the wide Win32 calls.
fn wide(path: &Path) -> Vec<u16> {
    path.as_os_str().encode_wide().chain(Some(0)).collect()
}

/// Memory the system allocated with `LocalAlloc`, freed when dropped.
struct Local(*mut c_void);

impl Drop for Local {
    fn drop(&mut self) {
        if !self.0.is_null() {
            // SAFETY: the pointer came from a Win32 call documented to allocate with
            // LocalAlloc, and is freed exactly once, here.
            unsafe { LocalFree(self.0 as HLOCAL) };
        }
    }
}

/// A handle closed when dropped.
struct Handle(HANDLE);

impl Drop for Handle {
    fn drop(&mut self) {
        if !self.0.is_null() {
            // SAFETY: the handle was opened by this module and is closed exactly once.
            unsafe { CloseHandle(self.0) };
        }
    }
}

fn last_error(what: &str) -> std::io::Error {
    let e = std::io::Error::last_os_error();
    std::io::Error::new(e.kind(), format!("{what}: {e}"))
}

/// A token query's variable-sized answer.
fn token_information(class: i32) -> std::io::Result<Vec<u64>> {
    let mut token: HANDLE = std::ptr::null_mut();
    // SAFETY: GetCurrentProcess returns a pseudo-handle that needs no closing; `token` is a
    // valid out pointer.
    if unsafe { OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &mut token) } == 0 {
        return Err(last_error("OpenProcessToken"));
    }
    let token = Handle(token);
    let mut len = 0u32;
    // SAFETY: a size query: a null buffer of length 0 and a valid out pointer for the size.
    unsafe { GetTokenInformation(token.0, class, std::ptr::null_mut(), 0, &mut len) };
    if len == 0 || len > 64 * 1024 {
        return Err(last_error("GetTokenInformation"));
    }
    // u64 elements keep the buffer aligned for the structures it will hold.
    let mut buf = vec![0u64; (len as usize).div_ceil(8)];
    // SAFETY: the buffer holds at least `len` bytes, as the call requires.
    if unsafe { GetTokenInformation(token.0, class, buf.as_mut_ptr().cast(), len, &mut len) } == 0 {
        return Err(last_error("GetTokenInformation"));
    }
    Ok(buf)
}

/// The account this process runs as (its SID, inside the buffer that holds it).
struct CurrentUser {
    buf: Vec<u64>,
}

impl CurrentUser {
    fn get() -> std::io::Result<Self> {
        Ok(Self {
            buf: token_information(TokenUser)?,
        })
    }

    fn sid(&self) -> PSID {
        // SAFETY: the buffer holds a TOKEN_USER (TokenUser's answer), aligned by its u64
        // elements; its SID points into the same buffer, which lives as long as `self`.
        unsafe { (*(self.buf.as_ptr().cast::<TOKEN_USER>())).User.Sid }
    }
}

/// Replaces the access list of `path` with one entry, the current account with full control,
/// protected from inheriting anything from its parent.
fn set_owner_only(path: &Path, inherit: bool) -> std::io::Result<()> {
    let user = CurrentUser::get()?;
    set_single_entry(path, user.sid(), inherit, true)
}

/// Replaces the access list of `path` with one entry giving `sid` full control.
fn set_single_entry(path: &Path, sid: PSID, inherit: bool, protect: bool) -> std::io::Result<()> {
    let entry = EXPLICIT_ACCESS_W {
        grfAccessPermissions: FILE_ALL_ACCESS,
        grfAccessMode: SET_ACCESS,
        grfInheritance: if inherit {
            SUB_CONTAINERS_AND_OBJECTS_INHERIT
        } else {
            NO_INHERITANCE
        },
        Trustee: TRUSTEE_W {
            pMultipleTrustee: std::ptr::null_mut(),
            MultipleTrusteeOperation: NO_MULTIPLE_TRUSTEE,
            TrusteeForm: TRUSTEE_IS_SID,
            TrusteeType: TRUSTEE_IS_USER,
            ptstrName: sid.cast(),
        },
    };
    let mut acl: *mut ACL = std::ptr::null_mut();
    // SAFETY: one valid entry whose SID outlives the call; `acl` receives a LocalAlloc'd
    // list, freed by `Local`.
    let rc = unsafe { SetEntriesInAclW(1, &entry, std::ptr::null(), &mut acl) };
    let _acl = Local(acl.cast());
    if rc != ERROR_SUCCESS {
        return Err(std::io::Error::from_raw_os_error(rc as i32));
    }
    let name = wide(path);
    let protection = if protect {
        PROTECTED_DACL_SECURITY_INFORMATION
    } else {
        0
    };
    // SAFETY: `name` is NUL-terminated; `acl` is the valid list made above; owner, group and
    // SACL are left unchanged (null).
    let rc = unsafe {
        SetNamedSecurityInfoW(
            name.as_ptr(),
            SE_FILE_OBJECT,
            DACL_SECURITY_INFORMATION | protection,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            acl,
            std::ptr::null(),
        )
    };
    if rc != ERROR_SUCCESS {
        return Err(std::io::Error::from_raw_os_error(rc as i32));
    }
    Ok(())
}

/// Test helper: an access list that lets Everyone in.
#[cfg(test)]
pub fn open_to_everyone(path: &Path) {
    use windows_sys::Win32::Security::{CreateWellKnownSid, SECURITY_MAX_SID_SIZE, WinWorldSid};
    let mut sid = [0u64; (SECURITY_MAX_SID_SIZE as usize).div_ceil(8)];
    let mut size = SECURITY_MAX_SID_SIZE;
    // SAFETY: the buffer holds SECURITY_MAX_SID_SIZE bytes, as `size` says.
    let ok = unsafe {
        CreateWellKnownSid(
            WinWorldSid,
            std::ptr::null_mut(),
            sid.as_mut_ptr().cast(),
            &mut size,
        )
    };
    assert!(ok != 0, "CreateWellKnownSid failed");
    set_single_entry(path, sid.as_mut_ptr().cast(), false, true).unwrap();
}

/// A security descriptor in SDDL form: a protected access list with one entry giving this
/// account full control (inherited by what a directory holds when `container`).
struct OwnerOnly {
    sd: Local,
}

impl OwnerOnly {
    fn new(container: bool) -> std::io::Result<Self> {
        let user = CurrentUser::get()?;
        let sid = sid_text(user.sid()).ok_or_else(|| last_error("ConvertSidToStringSidW"))?;
        let flags = if container { "OICI" } else { "" };
        let sddl: Vec<u16> = format!("D:P(A;{flags};FA;;;{sid})")
            .encode_utf16()
            .chain(Some(0))
            .collect();
        let mut sd: PSECURITY_DESCRIPTOR = std::ptr::null_mut();
        // SAFETY: `sddl` is NUL-terminated; `sd` receives a LocalAlloc'd descriptor, freed by
        // `Local`; the size output is optional.
        let ok = unsafe {
            ConvertStringSecurityDescriptorToSecurityDescriptorW(
                sddl.as_ptr(),
                SDDL_REVISION_1,
                &mut sd,
                std::ptr::null_mut(),
            )
        };
        if ok == 0 || sd.is_null() {
            return Err(last_error(
                "ConvertStringSecurityDescriptorToSecurityDescriptorW",
            ));
        }
        Ok(Self { sd: Local(sd) })
    }

    fn attributes(&self) -> SECURITY_ATTRIBUTES {
        SECURITY_ATTRIBUTES {
            nLength: std::mem::size_of::<SECURITY_ATTRIBUTES>() as u32,
            lpSecurityDescriptor: self.sd.0,
            bInheritHandle: 0,
        }
    }
}

/// Creates the file with its owner-only access list from the first instant, so no other
/// account can open it in between. An existing file (`new` false) is replaced.
pub fn create_private(path: &Path, _access: Access, new: bool) -> std::io::Result<std::fs::File> {
    if !new {
        match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    let sd = OwnerOnly::new(false)?;
    let attributes = sd.attributes();
    let name = wide(path);
    // SAFETY: `name` is NUL-terminated and `attributes` points at a descriptor that lives in
    // `sd` for the call; no template file.
    let handle = unsafe {
        CreateFileW(
            name.as_ptr(),
            GENERIC_READ | GENERIC_WRITE,
            // As std opens files: others may not open it (its access list says so), but the
            // writer may rename it into place while it is still open.
            FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
            &attributes,
            CREATE_NEW,
            FILE_ATTRIBUTE_NORMAL,
            std::ptr::null_mut(),
        )
    };
    if handle == INVALID_HANDLE_VALUE || handle.is_null() {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a valid file handle this process owns and hands over to the File.
    Ok(unsafe { std::fs::File::from_raw_handle(handle as _) })
}

/// Creates the directory owner-only (its files inherit that), or narrows an existing one.
pub fn protect_dir(dir: &Path) -> std::io::Result<()> {
    set_owner_only(dir, true)
}

/// Creates `dir` (parents as usual) with an owner-only, inherited access list.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return protect_dir(dir);
    }
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let sd = OwnerOnly::new(true)?;
    let attributes = sd.attributes();
    let name = wide(dir);
    // SAFETY: `name` is NUL-terminated and `attributes` points at a live descriptor.
    if unsafe { CreateDirectoryW(name.as_ptr(), &attributes) } == 0 {
        let e = std::io::Error::last_os_error();
        // Another process made it first: narrow it as an existing one.
        return if dir.is_dir() {
            protect_dir(dir)
        } else {
            Err(e)
        };
    }
    Ok(())
}

/// Who may reach `path` besides its owner, the local system and the administrators.
pub fn check_private(path: &Path, _access: Access) -> Result<(), String> {
    let name = wide(path);
    let mut owner: PSID = std::ptr::null_mut();
    let mut dacl: *mut ACL = std::ptr::null_mut();
    let mut sd: PSECURITY_DESCRIPTOR = std::ptr::null_mut();
    // SAFETY: `name` is NUL-terminated and every out pointer is valid; the owner and DACL
    // point into `sd`, which `Local` frees after their last use below.
    let rc = unsafe {
        GetNamedSecurityInfoW(
            name.as_ptr(),
            SE_FILE_OBJECT,
            OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION,
            &mut owner,
            std::ptr::null_mut(),
            &mut dacl,
            std::ptr::null_mut(),
            &mut sd,
        )
    };
    let _sd = Local(sd);
    if rc != ERROR_SUCCESS {
        return Err(format!(
            "its access list cannot be read: {}",
            std::io::Error::from_raw_os_error(rc as i32)
        ));
    }
    if dacl.is_null() {
        return Err("it has no access list, so everyone may use it".into());
    }
    let mut size = ACL_SIZE_INFORMATION::default();
    // SAFETY: `dacl` is the valid list returned above; `size` is the structure this
    // information class fills.
    let ok = unsafe {
        GetAclInformation(
            dacl,
            (&mut size as *mut ACL_SIZE_INFORMATION).cast(),
            std::mem::size_of::<ACL_SIZE_INFORMATION>() as u32,
            AclSizeInformation,
        )
    };
    if ok == 0 {
        return Err("its access list cannot be read".into());
    }
    let mut others = Vec::new();
    for i in 0..size.AceCount {
        let mut ace: *mut c_void = std::ptr::null_mut();
        // SAFETY: `i` is below the list's entry count; `ace` receives a pointer into `dacl`.
        if unsafe { GetAce(dacl, i, &mut ace) } == 0 || ace.is_null() {
            return Err("its access list cannot be read".into());
        }
        // SAFETY: every entry starts with an ACE_HEADER.
        let header = unsafe { *(ace.cast::<ACE_HEADER>()) };
        if u32::from(header.AceType) != ACCESS_ALLOWED_ACE_TYPE {
            continue; // denials and audits never widen access
        }
        // SAFETY: an ACCESS_ALLOWED_ACE, whose SID starts at SidStart inside the entry.
        let sid: PSID = unsafe { (&raw mut (*ace.cast::<ACCESS_ALLOWED_ACE>()).SidStart).cast() };
        // SAFETY: both SIDs are valid for the duration of the calls.
        let trusted = unsafe {
            EqualSid(sid, owner) != 0
                || IsWellKnownSid(sid, WinLocalSystemSid) != 0
                || IsWellKnownSid(sid, WinBuiltinAdministratorsSid) != 0
        };
        if !trusted {
            others.push(account_name(sid));
        }
    }
    if others.is_empty() {
        return Ok(());
    }
    Err(format!("its access list lets {} in", others.join(", ")))
}

/// An account's name (`BUILTIN\Users`), or its SID in text form when it has none here.
fn account_name(sid: PSID) -> String {
    let mut name = [0u16; 256];
    let mut domain = [0u16; 256];
    let (mut name_len, mut domain_len, mut kind) = (256u32, 256u32, 0i32);
    // SAFETY: both buffers hold the lengths given; `sid` is valid for the call.
    let found = unsafe {
        LookupAccountSidW(
            std::ptr::null(),
            sid,
            name.as_mut_ptr(),
            &mut name_len,
            domain.as_mut_ptr(),
            &mut domain_len,
            &mut kind,
        )
    } != 0;
    let text = |b: &[u16], n: u32| String::from_utf16_lossy(b.get(..n as usize).unwrap_or(&[]));
    if found {
        let (d, n) = (text(&domain, domain_len), text(&name, name_len));
        return if d.is_empty() { n } else { format!("{d}\\{n}") };
    }
    sid_text(sid).unwrap_or_else(|| "an unknown account".into())
}

/// A SID in its text form (`S-1-5-18`).
fn sid_text(sid: PSID) -> Option<String> {
    let mut raw: *mut u16 = std::ptr::null_mut();
    // SAFETY: `raw` receives a LocalAlloc'd NUL-terminated string, freed by `Local`.
    if unsafe { ConvertSidToStringSidW(sid, &mut raw) } == 0 || raw.is_null() {
        return None;
    }
    let _free = Local(raw.cast());
    // SAFETY: `raw` is NUL-terminated, so the scan stops inside the allocation.
    let len = (0..).take_while(|&i| unsafe { *raw.add(i) } != 0).count();
    // SAFETY: `len` characters were just read from `raw`.
    Some(String::from_utf16_lossy(unsafe {
        std::slice::from_raw_parts(raw, len)
    }))
}

pub fn fix_command(path: &Path, _access: Access) -> String {
    format!(
        "icacls \"{}\" /inheritance:r /grant:r \"%USERNAME%:F\"",
        path.display()
    )
}

pub fn create_executable(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
}

pub fn unix_mode(_meta: &std::fs::Metadata) -> Option<UnixMode> {
    None
}

/// An open registry key, closed when dropped.
struct RegKey(HKEY);

impl Drop for RegKey {
    fn drop(&mut self) {
        // SAFETY: the key was opened by `open_hklm` and is closed exactly once.
        unsafe { RegCloseKey(self.0) };
    }
}

/// Opens `HKLM\...` for reading, in the 64-bit view; `None` when it does not exist.
fn open_hklm(key: &str) -> Result<Option<RegKey>, String> {
    let (root, path) = key.split_once('\\').unwrap_or((key, ""));
    if !matches!(
        root.to_ascii_uppercase().as_str(),
        "HKLM" | "HKEY_LOCAL_MACHINE"
    ) {
        return Err(format!(
            "{key}: only HKEY_LOCAL_MACHINE keys can be audited"
        ));
    }
    let name: Vec<u16> = path.encode_utf16().chain(Some(0)).collect();
    let mut handle: HKEY = std::ptr::null_mut();
    // SAFETY: `name` is NUL-terminated; `handle` receives the key, closed by `RegKey`.
    let rc = unsafe {
        RegOpenKeyExW(
            HKEY_LOCAL_MACHINE,
            name.as_ptr(),
            0,
            KEY_READ | KEY_WOW64_64KEY,
            &mut handle,
        )
    };
    match rc {
        ERROR_SUCCESS => Ok(Some(RegKey(handle))),
        ERROR_FILE_NOT_FOUND | ERROR_PATH_NOT_FOUND => Ok(None),
        e => Err(format!(
            "{key}: {}",
            std::io::Error::from_raw_os_error(e as i32)
        )),
    }
}

/// The largest value read from the live registry.
const MAX_VALUE: u32 = 16 * 1024 * 1024;

/// A value of the running registry; `None` when the key or value does not exist.
pub fn registry_value(key: &str, name: &str) -> Result<Option<crate::registry::Value>, String> {
    let Some(k) = open_hklm(key)? else {
        return Ok(None);
    };
    let wide_name: Vec<u16> = name.encode_utf16().chain(Some(0)).collect();
    let mut size = 256u32;
    loop {
        let mut data = vec![0u8; size as usize];
        let (mut kind, mut len) = (0u32, size);
        // SAFETY: `data` holds `len` bytes; the name is NUL-terminated; the key is open.
        let rc = unsafe {
            RegQueryValueExW(
                k.0,
                wide_name.as_ptr(),
                std::ptr::null(),
                &mut kind,
                data.as_mut_ptr(),
                &mut len,
            )
        };
        match rc {
            ERROR_SUCCESS => {
                data.truncate(len as usize);
                return Ok(Some(crate::registry::Value::from_raw(kind, &data)));
            }
            ERROR_MORE_DATA if len > size && len <= MAX_VALUE => size = len,
            ERROR_FILE_NOT_FOUND => return Ok(None),
            e => {
                return Err(format!(
                    "{key}\\{name}: {}",
                    std::io::Error::from_raw_os_error(e as i32)
                ));
            }
        }
    }
}

/// The names of the subkeys of a key of the running registry.
pub fn registry_subkeys(key: &str) -> Result<Option<Vec<String>>, String> {
    let Some(k) = open_hklm(key)? else {
        return Ok(None);
    };
    let mut names = Vec::new();
    for index in 0..100_000u32 {
        // Key names are at most 255 characters.
        let mut name = [0u16; 256];
        let mut len = name.len() as u32;
        // SAFETY: `name` holds `len` characters; class and time are not asked for.
        let rc = unsafe {
            RegEnumKeyExW(
                k.0,
                index,
                name.as_mut_ptr(),
                &mut len,
                std::ptr::null(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            )
        };
        match rc {
            ERROR_SUCCESS => names.push(String::from_utf16_lossy(
                name.get(..len as usize).unwrap_or(&[]),
            )),
            ERROR_NO_MORE_ITEMS => break,
            e => {
                return Err(format!(
                    "{key}: {}",
                    std::io::Error::from_raw_os_error(e as i32)
                ));
            }
        }
    }
    Ok(Some(names))
}

/// Extra entropy mixed into the agent's DPAPI blobs, so another program running as the same
/// account cannot open them by simply calling CryptUnprotectData.
const DPAPI_ENTROPY: &[u8] = b"tater-agent-config:v1";

/// Encrypts with DPAPI: for this account (`machine` false) or for any account on this machine
/// (`machine` true, for a service account's file that an administrator may also open).
pub fn dpapi_protect(plain: &[u8], machine: bool) -> Result<Vec<u8>, String> {
    let flags = CRYPTPROTECT_UI_FORBIDDEN
        | if machine {
            CRYPTPROTECT_LOCAL_MACHINE
        } else {
            0
        };
    dpapi(plain, Some(flags))
}

/// Decrypts a DPAPI blob made by [`dpapi_protect`] on this machine (and account).
pub fn dpapi_unprotect(sealed: &[u8]) -> Result<Vec<u8>, String> {
    dpapi(sealed, None)
}

/// One DPAPI call: protect with `flags`, or unprotect when `None`.
fn dpapi(input: &[u8], protect: Option<u32>) -> Result<Vec<u8>, String> {
    let len = u32::try_from(input.len()).map_err(|_| "too much data for DPAPI".to_owned())?;
    let data_in = CRYPT_INTEGER_BLOB {
        cbData: len,
        pbData: input.as_ptr().cast_mut(),
    };
    let entropy = CRYPT_INTEGER_BLOB {
        cbData: DPAPI_ENTROPY.len() as u32,
        pbData: DPAPI_ENTROPY.as_ptr().cast_mut(),
    };
    let mut out = CRYPT_INTEGER_BLOB::default();
    // SAFETY: both input blobs point at live memory of the lengths given, which DPAPI only
    // reads; `out` receives a LocalAlloc'd buffer, copied and then freed below.
    let ok = unsafe {
        match protect {
            Some(flags) => CryptProtectData(
                &data_in,
                std::ptr::null(),
                &entropy,
                std::ptr::null(),
                std::ptr::null(),
                flags,
                &mut out,
            ),
            None => CryptUnprotectData(
                &data_in,
                std::ptr::null_mut(),
                &entropy,
                std::ptr::null(),
                std::ptr::null(),
                CRYPTPROTECT_UI_FORBIDDEN,
                &mut out,
            ),
        }
    };
    let _free = Local(out.pbData.cast());
    if ok == 0 || out.pbData.is_null() {
        return Err(match protect {
            Some(_) => format!("DPAPI could not protect the configuration: {}", std::io::Error::last_os_error()),
            None => "the configuration does not open with DPAPI here (it was protected on another machine or for another account, or it was altered)".into(),
        });
    }
    // SAFETY: DPAPI returned `cbData` bytes at `pbData`, valid until `_free` frees them.
    Ok(unsafe { std::slice::from_raw_parts(out.pbData, out.cbData as usize) }.to_vec())
}

/// Whether this process runs elevated (an administrator's full token, or LocalSystem).
pub fn is_admin() -> bool {
    token_information(TokenElevation)
        // SAFETY: TokenElevation's answer is a TOKEN_ELEVATION, aligned by the u64 buffer.
        .map(|buf| unsafe { (*(buf.as_ptr().cast::<TOKEN_ELEVATION>())).TokenIsElevated != 0 })
        .unwrap_or(false)
}

/// Starts `exe` with this process's arguments and ends this one; returns only on failure.
/// (A process cannot replace itself on Windows; the service manager sees the new process
/// because the service restarts itself on exit, see `service`.)
pub fn restart_into(exe: &Path) -> std::io::Error {
    match std::process::Command::new(exe)
        .args(std::env::args_os().skip(1))
        .spawn()
    {
        Ok(_) => std::process::exit(0),
        Err(e) => e,
    }
}

/// The process that runs a server script: Windows PowerShell, without profile or prompts, as
/// the agent's own account (the service's LocalSystem).
pub fn script_command(cmd: &Command) -> Result<Script, String> {
    if cmd.language != "powershell" {
        return Err(format!(
            "{} scripts do not run on this platform (powershell does)",
            cmd.language
        ));
    }
    let as_agent = matches!(
        cmd.run_as.to_ascii_lowercase().as_str(),
        "" | "root" | "system" | "localsystem" | "administrator"
    );
    if !as_agent {
        return Err(format!(
            "running as {} is not supported on Windows: scripts run as the agent's service account",
            cmd.run_as
        ));
    }
    if !is_admin() {
        return Err(
            "the script must run with administrator rights, and this agent does not".into(),
        );
    }
    // A file, not `-Command`: PowerShell reads a whole script file as one program, where
    // standard input is read line by line and a command line is limited to 32,767 characters.
    // It is private to the agent's account and removed when the script ends.
    let dir = state_dir().join("scripts");
    super::create_private_dir(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let mut name = [0u8; 16];
    super::random_bytes(&mut name)?;
    let name: String = name.iter().map(|b| format!("{b:02x}")).collect();
    let file = RemoveOnDrop(dir.join(format!("{name}.ps1")));
    // A byte-order mark tells Windows PowerShell 5.1 the script is UTF-8.
    let mut text = vec![0xEF, 0xBB, 0xBF];
    text.extend_from_slice(cmd.content.as_bytes());
    super::create_private(&file.0, Access::ReadWrite, true)
        .and_then(|mut f| std::io::Write::write_all(&mut f, &text))
        .map_err(|e| format!("writing the script: {e}"))?;
    let mut command = tokio::process::Command::new("powershell.exe");
    command.args([
        "-NoProfile",
        "-NonInteractive",
        "-ExecutionPolicy",
        "Bypass",
        "-File",
    ]);
    command.arg(&file.0);
    Ok(Script {
        command,
        file: Some(file),
    })
}

/// A started script and everything it starts: a Job Object that kills the whole process tree
/// when told to, and when the agent lets go of it.
pub struct Contained {
    job: Handle,
}

// SAFETY (Send/Sync): a job handle may be used from any thread; this type only terminates it
// and closes it once.
unsafe impl Send for Contained {}
unsafe impl Sync for Contained {}

impl Contained {
    pub fn spawn(
        mut command: tokio::process::Command,
    ) -> std::io::Result<(Contained, tokio::process::Child)> {
        // SAFETY: no security attributes and no name: an anonymous job with default security.
        let job = Handle(unsafe { CreateJobObjectW(std::ptr::null(), std::ptr::null()) });
        if job.0.is_null() {
            return Err(last_error("CreateJobObjectW"));
        }
        let mut limits = JOBOBJECT_EXTENDED_LIMIT_INFORMATION::default();
        limits.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
        // SAFETY: the structure and size match the information class.
        let ok = unsafe {
            SetInformationJobObject(
                job.0,
                JobObjectExtendedLimitInformation,
                (&limits as *const JOBOBJECT_EXTENDED_LIMIT_INFORMATION).cast(),
                std::mem::size_of::<JOBOBJECT_EXTENDED_LIMIT_INFORMATION>() as u32,
            )
        };
        if ok == 0 {
            return Err(last_error("SetInformationJobObject"));
        }
        let child = command.spawn()?;
        // The child joins the job as soon as it exists; PowerShell takes far longer to start
        // than this takes, so what the script starts is in the job too.
        let Some(process) = child.raw_handle() else {
            return Err(std::io::Error::other("the script ended before it started"));
        };
        // SAFETY: both handles are valid: the job above and the live child's process handle.
        if unsafe { AssignProcessToJobObject(job.0, process as HANDLE) } == 0 {
            return Err(last_error("AssignProcessToJobObject"));
        }
        Ok((Contained { job }, child))
    }

    /// Kills every process in the job: the script and everything it started.
    pub fn kill_tree(&self) {
        // SAFETY: the job handle is valid while `self` lives.
        unsafe { TerminateJobObject(self.job.0, 1) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_private_file_has_only_its_owner_in_its_access_list() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        std::io::Write::write_all(
            &mut create_private(&path, Access::ReadWrite, true).unwrap(),
            b"x",
        )
        .unwrap();
        check_private(&path, Access::ReadWrite).unwrap();
        open_to_everyone(&path);
        let err = check_private(&path, Access::ReadWrite).unwrap_err();
        assert!(err.contains("Everyone"), "{err}");
        // Creating it again (truncating) narrows it again.
        create_private(&path, Access::ReadWrite, false).unwrap();
        check_private(&path, Access::ReadWrite).unwrap();
    }

    #[test]
    fn the_spool_directory_and_its_reports_are_private() {
        // (That new files inherit the directory's list is Windows's own work, which Wine does
        // not imitate; every report is written through create_private in any case.)
        let dir = tempfile::tempdir().unwrap();
        let spool_dir = dir.path().join("spool");
        let spool = crate::spool::Spool::open(&spool_dir).unwrap();
        check_private(&spool_dir, Access::ReadWrite).unwrap();
        let report = spool.add("00000000000001-scan", b"{}").unwrap();
        check_private(&report, Access::ReadWrite).unwrap();
        assert_eq!(spool.pending(), vec![report]);
    }

    #[tokio::test]
    async fn a_job_object_kills_the_script_and_what_it_started() {
        let dir = tempfile::tempdir().unwrap();
        // A batch file that starts a second, endless one and then loops itself.
        let inner = dir.path().join("inner.bat");
        std::fs::write(&inner, ":again\r\ngoto again\r\n").unwrap();
        let outer = dir.path().join("outer.bat");
        std::fs::write(
            &outer,
            format!(
                "start /b cmd /c \"{}\"\r\n:again\r\ngoto again\r\n",
                inner.display()
            ),
        )
        .unwrap();
        let mut command = tokio::process::Command::new("cmd.exe");
        command.arg("/c").arg(&outer);
        let (contained, mut child) = Contained::spawn(command).unwrap();
        contained.kill_tree();
        let status = tokio::time::timeout(std::time::Duration::from_secs(30), child.wait())
            .await
            .expect("the job's processes end when it is terminated")
            .unwrap();
        assert_eq!(status.code(), Some(1));
    }

    #[test]
    fn dpapi_blobs_open_only_unaltered_and_with_the_agents_entropy() {
        for machine in [false, true] {
            let sealed = dpapi_protect(b"{\"apiKey\":\"secret\"}", machine).unwrap();
            assert!(!sealed.windows(6).any(|w| w == b"secret"));
            assert_eq!(
                dpapi_unprotect(&sealed).unwrap(),
                b"{\"apiKey\":\"secret\"}"
            );
            let mut altered = sealed.clone();
            let last = altered.len() - 1;
            altered[last] ^= 1;
            assert!(dpapi_unprotect(&altered).is_err());
        }
    }

    #[test]
    fn scripts_are_powershell_as_the_agent_and_nothing_else() {
        let cmd = |language: &str, run_as: &str| Command {
            job_id: "j".into(),
            language: language.into(),
            run_as: run_as.into(),
            timeout_secs: 5,
            content: "Write-Output 1".into(),
        };
        let err = script_command(&cmd("bash", "")).err().unwrap();
        assert!(err.contains("powershell does"), "{err}");
        let err = script_command(&cmd("powershell", "alice")).err().unwrap();
        assert!(err.contains("not supported on Windows"), "{err}");
    }
}
