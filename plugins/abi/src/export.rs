//! The plugin side: implement [`SignerPlugin`] and export it with [`crate::export_signer!`].
//!
//! The generic `extern "C"` functions here do the unsafe work once for every plugin: they decode
//! the JSON, catch panics so none unwinds into the host, and hand results out in plugin-owned
//! buffers that only [`free_buf`] releases.

use std::ffi::c_void;
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::ffi::{Buf, LogFn, STATUS_ERR, STATUS_OK, STATUS_PANIC, log_level};
use crate::wire::{InstanceConfig, Method, PROTOCOL_VERSION, Request};

/// Sends log lines to the host's callback (or nowhere if the host gave none).
#[derive(Clone, Copy)]
pub struct Logger(Option<LogFn>);

impl Logger {
    fn emit(&self, level: u32, msg: &str) {
        if let Some(cb) = self.0 {
            // SAFETY: the host promised `cb` stays valid for the life of the instance and reads
            // exactly `len` bytes from `ptr` during the call.
            unsafe { cb(level, msg.as_ptr(), msg.len()) }
        }
    }
    /// Logs a warning.
    pub fn warn(&self, msg: &str) {
        self.emit(log_level::WARN, msg)
    }
    /// Logs progress information.
    pub fn info(&self, msg: &str) {
        self.emit(log_level::INFO, msg)
    }
    /// Logs debugging details.
    pub fn debug(&self, msg: &str) {
        self.emit(log_level::DEBUG, msg)
    }
}

/// A signer backend. One value is one instance: a key reference, with whatever client or
/// runtime the backend needs (a plugin that does network I/O owns its own runtime here).
pub trait SignerPlugin: Send + Sync + Sized + 'static {
    /// Opens the key reference in `config`. Errors are shown to the user as they are.
    fn new(config: InstanceConfig, log: Logger) -> Result<Self, String>;

    /// Answers one method with its JSON result.
    fn handle(&self, method: Method) -> Result<serde_json::Value, String>;
}

fn into_buf(mut bytes: Vec<u8>) -> Buf {
    let buf = Buf {
        ptr: bytes.as_mut_ptr(),
        len: bytes.len(),
        cap: bytes.capacity(),
    };
    std::mem::forget(bytes);
    buf
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".to_owned()
    }
}

/// Writes `bytes` into the host's out-pointer, if it gave one.
///
/// # Safety
/// `out` is null or valid for one write of a [`Buf`].
unsafe fn write_out(out: *mut Buf, bytes: Vec<u8>) {
    if !out.is_null() {
        // SAFETY: guaranteed by the caller.
        unsafe { out.write(into_buf(bytes)) };
    }
}

/// `new_instance` of the table, for plugin type `P`.
///
/// # Safety
/// `cfg` must point to `len` readable bytes; `err` must be null or valid for one write.
pub unsafe extern "C" fn new_instance<P: SignerPlugin>(
    cfg: *const u8,
    len: usize,
    log: Option<LogFn>,
    err: *mut Buf,
) -> *mut c_void {
    let bytes: &[u8] = if cfg.is_null() || len == 0 {
        &[]
    } else {
        // SAFETY: the caller guarantees `cfg` points to `len` readable bytes.
        unsafe { std::slice::from_raw_parts(cfg, len) }
    };
    let result = catch_unwind(AssertUnwindSafe(|| {
        let config: InstanceConfig = serde_json::from_slice(bytes)
            .map_err(|e| format!("invalid instance configuration: {e}"))?;
        if config.protocol_version != PROTOCOL_VERSION {
            return Err(format!(
                "host speaks protocol version {}, this plugin speaks {PROTOCOL_VERSION}",
                config.protocol_version
            ));
        }
        P::new(config, Logger(log))
    }));
    let message = match result {
        Ok(Ok(instance)) => return Box::into_raw(Box::new(instance)).cast(),
        Ok(Err(message)) => message,
        Err(panic) => format!("plugin panicked: {}", panic_message(&*panic)),
    };
    // SAFETY: `err` is null or valid for one write, as the caller guarantees.
    unsafe { write_out(err, message.into_bytes()) };
    std::ptr::null_mut()
}

/// `call` of the table, for plugin type `P`.
///
/// # Safety
/// `inst` must come from [`new_instance::<P>`] and not be dropped; `req` must point to `len`
/// readable bytes; `out` must be null or valid for one write.
pub unsafe extern "C" fn call<P: SignerPlugin>(
    inst: *mut c_void,
    req: *const u8,
    len: usize,
    out: *mut Buf,
) -> u32 {
    if inst.is_null() {
        // SAFETY: `out` is null or valid for one write.
        unsafe { write_out(out, b"null instance".to_vec()) };
        return STATUS_ERR;
    }
    // SAFETY: `inst` was made by `new_instance::<P>` from a `Box<P>` and is still alive; `P: Sync`
    // makes shared access from several host threads sound.
    let instance: &P = unsafe { &*inst.cast::<P>() };
    let bytes: &[u8] = if req.is_null() || len == 0 {
        &[]
    } else {
        // SAFETY: the caller guarantees `req` points to `len` readable bytes.
        unsafe { std::slice::from_raw_parts(req, len) }
    };
    let result = catch_unwind(AssertUnwindSafe(|| {
        let request: Request =
            serde_json::from_slice(bytes).map_err(|e| format!("invalid request: {e}"))?;
        if request.protocol_version != PROTOCOL_VERSION {
            return Err(format!(
                "host speaks protocol version {}, this plugin speaks {PROTOCOL_VERSION}",
                request.protocol_version
            ));
        }
        let value = instance.handle(request.method)?;
        serde_json::to_vec(&value).map_err(|e| format!("cannot encode the result: {e}"))
    }));
    let (status, bytes) = match result {
        Ok(Ok(json)) => (STATUS_OK, json),
        Ok(Err(message)) => (STATUS_ERR, message.into_bytes()),
        Err(panic) => (STATUS_PANIC, panic_message(&*panic).into_bytes()),
    };
    // SAFETY: `out` is null or valid for one write.
    unsafe { write_out(out, bytes) };
    status
}

/// `drop_instance` of the table, for plugin type `P`.
///
/// # Safety
/// `inst` must be null or come from [`new_instance::<P>`], and must not be used afterwards.
pub unsafe extern "C" fn drop_instance<P: SignerPlugin>(inst: *mut c_void) {
    if inst.is_null() {
        return;
    }
    // SAFETY: `inst` is a `Box<P>` leaked by `new_instance::<P>`, dropped exactly once here.
    let boxed = unsafe { Box::from_raw(inst.cast::<P>()) };
    // A panicking destructor must not unwind into the host.
    let _ = catch_unwind(AssertUnwindSafe(move || drop(boxed)));
}

/// `free_buf` of the table.
///
/// # Safety
/// `buf` must be empty or have been returned by this plugin and not freed before.
pub unsafe extern "C" fn free_buf(buf: Buf) {
    if buf.ptr.is_null() {
        return;
    }
    // SAFETY: `buf` came from `into_buf`, i.e. from a `Vec<u8>` with exactly this pointer,
    // length and capacity, allocated by this library's allocator.
    drop(unsafe { Vec::from_raw_parts(buf.ptr, buf.len, buf.cap) });
}

/// The [`crate::ffi::SignerVTable`] for a [`SignerPlugin`], as a constant expression. Most
/// plugins use [`crate::export_signer!`], which also defines the entry symbol; this is for plugins
/// that need their own entry logic (the misbehaving test plugin).
#[macro_export]
macro_rules! signer_vtable {
    (plugin: $ty:ty, name: $name:literal, schemes: $schemes:literal, flags: $flags:expr $(,)?) => {
        $crate::ffi::SignerVTable {
            abi_version: $crate::ffi::ABI_VERSION,
            struct_size: ::std::mem::size_of::<$crate::ffi::SignerVTable>(),
            name: ::std::concat!($name, "\0").as_ptr().cast(),
            version: ::std::concat!(::std::env!("CARGO_PKG_VERSION"), "\0")
                .as_ptr()
                .cast(),
            schemes: ::std::concat!($schemes, "\0").as_ptr().cast(),
            flags: $flags,
            new_instance: $crate::export::new_instance::<$ty>,
            call: $crate::export::call::<$ty>,
            drop_instance: $crate::export::drop_instance::<$ty>,
            free_buf: $crate::export::free_buf,
        }
    };
}

/// Exports a [`SignerPlugin`] as a sigmirror signer plugin.
///
/// ```ignore
/// sigmirror_plugin_abi::export_signer! {
///     plugin: MySigner,
///     name: "mysigner",
///     schemes: "mykms",
///     flags: 0,
/// }
/// ```
/// It generates the `sigmirror_signer_entry_v1` symbol and the static function table. The crate
/// must be `crate-type = ["cdylib"]` only: two plugins linked into one binary would resolve to one
/// entry symbol.
#[macro_export]
macro_rules! export_signer {
    (plugin: $ty:ty, name: $name:literal, schemes: $schemes:literal, flags: $flags:expr $(,)?) => {
        static SIGMIRROR_SIGNER_VTABLE: $crate::ffi::SignerVTable = $crate::signer_vtable! {
            plugin: $ty, name: $name, schemes: $schemes, flags: $flags
        };

        /// Entry point of this sigmirror signer plugin (ABI v1).
        ///
        /// # Safety
        /// Callable from any thread; returns a pointer to a static table or null.
        #[allow(unsafe_code)]
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn sigmirror_signer_entry_v1(
            host_abi: u32,
        ) -> *const $crate::ffi::SignerVTable {
            if host_abi == $crate::ffi::ABI_VERSION {
                &SIGMIRROR_SIGNER_VTABLE
            } else {
                ::std::ptr::null()
            }
        }
    };
}
