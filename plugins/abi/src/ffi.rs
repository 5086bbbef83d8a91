//! The raw C ABI: the one exported symbol, the function table it returns and the byte buffer
//! both sides exchange. Everything here is `#[repr(C)]` and plain data, so host and plugin may be
//! built by different compilers. See `docs/plugin-abi.md` for the normative description.

use std::ffi::c_char;
use std::os::raw::c_void;

/// Version of the table layout and of the calling rules. Bumped on any incompatible change;
/// new fields are only ever appended (and announced through `struct_size`).
pub const ABI_VERSION: u32 = 1;

/// Name of the symbol every plugin exports, NUL-terminated for `dlsym`.
pub const ENTRY_SYMBOL: &[u8] = b"sigmirror_signer_entry_v1\0";

/// Signature of the entry symbol. The host passes its own [`ABI_VERSION`]; the plugin returns its
/// static table, or null if it cannot serve that version.
pub type EntryFn = unsafe extern "C" fn(host_abi: u32) -> *const SignerVTable;

/// The call succeeded; the output buffer holds the JSON result.
pub const STATUS_OK: u32 = 0;
/// The call failed; the output buffer holds a UTF-8 error message.
pub const STATUS_ERR: u32 = 1;
/// The plugin panicked; the panic was caught and the output buffer holds its message.
pub const STATUS_PANIC: u32 = 2;

/// Flag bit: instances of this plugin need the key password (`password` in the instance
/// configuration). The host obtains it (environment, terminal prompt or stdin) only then.
pub const FLAG_NEEDS_PASSWORD: u32 = 1;

/// Log levels passed to [`LogFn`].
pub mod log_level {
    /// Something failed but the call goes on.
    pub const WARN: u32 = 1;
    /// What the plugin is doing.
    pub const INFO: u32 = 2;
    /// Details for debugging.
    pub const DEBUG: u32 = 3;
}

/// Host callback for plugin log lines: a level and a UTF-8 message that is only valid during the
/// call. A plugin has its own `log`/`tracing` globals, so this is how its messages reach the host.
pub type LogFn = unsafe extern "C" fn(level: u32, msg: *const u8, len: usize);

/// A byte buffer allocated by the plugin. Only the plugin's `free_buf` may release it.
#[repr(C)]
#[derive(Debug)]
pub struct Buf {
    /// Start of the bytes (null for an empty buffer).
    pub ptr: *mut u8,
    /// Number of valid bytes.
    pub len: usize,
    /// Allocated capacity, needed by the plugin to rebuild its `Vec` when freeing.
    pub cap: usize,
}

impl Buf {
    /// The empty buffer; freeing it is a no-op.
    pub const fn empty() -> Self {
        Buf {
            ptr: std::ptr::null_mut(),
            len: 0,
            cap: 0,
        }
    }
}

/// The table a plugin exports. All pointers in it are static and owned by the plugin.
#[repr(C)]
pub struct SignerVTable {
    /// Must equal the host's [`ABI_VERSION`].
    pub abi_version: u32,
    /// `size_of::<SignerVTable>()` as the plugin was built; lets later versions append fields.
    pub struct_size: usize,
    /// Plugin name (NUL-terminated UTF-8), e.g. `file`.
    pub name: *const c_char,
    /// Plugin version (NUL-terminated UTF-8), for diagnostics.
    pub version: *const c_char,
    /// Comma-separated key-reference schemes it serves (NUL-terminated), e.g. `awskms,hashivault`.
    pub schemes: *const c_char,
    /// Bit set of `FLAG_*` values.
    pub flags: u32,
    /// Creates an instance for one key reference from a JSON [`crate::wire::InstanceConfig`].
    /// Returns null on failure and then fills `err` with a UTF-8 message.
    pub new_instance: unsafe extern "C" fn(
        cfg: *const u8,
        len: usize,
        log: Option<LogFn>,
        err: *mut Buf,
    ) -> *mut c_void,
    /// Runs one JSON [`crate::wire::Request`]; returns a `STATUS_*` code and fills `out`.
    pub call:
        unsafe extern "C" fn(inst: *mut c_void, req: *const u8, len: usize, out: *mut Buf) -> u32,
    /// Destroys an instance made by `new_instance`.
    pub drop_instance: unsafe extern "C" fn(inst: *mut c_void),
    /// Frees a buffer the plugin returned through `err` or `out`.
    pub free_buf: unsafe extern "C" fn(buf: Buf),
}

// SAFETY: the table only holds pointers to static, immutable NUL-terminated strings and function
// pointers; sharing it between threads cannot cause a data race.
unsafe impl Sync for SignerVTable {}
// SAFETY: as above; nothing in the table is tied to the thread that created it.
unsafe impl Send for SignerVTable {}
