//! The wasm glue of ABI v1 (`abi/ABI.md` §2): the `squall_v1` imports, and
//! the functions the exports emitted by [`module!`](macro@crate::module) call.
//! Only the wasm32 build uses it; the rest of the crate compiles natively,
//! which is how the test harness runs modules.

use std::cell::RefCell;
use std::rc::Rc;

use crate::frames::{append_effect_header, ErrorDetail};
use crate::module::Module;
use crate::runtime::{Host, Instance};
use crate::wire::*;

#[cfg(target_arch = "wasm32")]
#[link(wasm_import_module = "squall_v1")]
extern "C" {
    #[link_name = "flush"]
    fn squall_flush(ptr: *const u8, len: u32) -> i32;
    #[link_name = "query"]
    fn squall_query(req: *const u8, req_len: u32, out: *mut u8, out_cap: u32) -> i32;
    #[link_name = "take"]
    fn squall_take(out: *mut u8, out_cap: u32) -> i32;
}

/// The host of a wasm instance: the imports.
pub(crate) struct WasmHost;

#[cfg(target_arch = "wasm32")]
impl Host for WasmHost {
    fn flush(&mut self, frame: &[u8]) -> i32 {
        unsafe { squall_flush(frame.as_ptr(), frame.len() as u32) }
    }
    fn query(&mut self, req: &[u8], out: &mut [u8]) -> i32 {
        unsafe { squall_query(req.as_ptr(), req.len() as u32, out.as_mut_ptr(), out.len() as u32) }
    }
    fn take(&mut self, out: &mut [u8]) -> i32 {
        unsafe { squall_take(out.as_mut_ptr(), out.len() as u32) }
    }
}

#[cfg(not(target_arch = "wasm32"))]
impl Host for WasmHost {
    fn flush(&mut self, _: &[u8]) -> i32 {
        ESTATE
    }
    fn query(&mut self, _: &[u8], _: &mut [u8]) -> i32 {
        ESTATE
    }
    fn take(&mut self, _: &mut [u8]) -> i32 {
        ESTATE
    }
}

thread_local! {
    /// The module's one instance. Its inbox is a Vec that only
    /// squall_inbox replaces, so it never moves while the host may write
    /// to it (§3).
    static GUEST: RefCell<Option<Instance>> = const { RefCell::new(None) };
}

fn with_guest<R>(define: fn(&mut Module), minor: u16, f: impl FnOnce(&mut Instance) -> R) -> R {
    GUEST.with(|g| {
        let mut g = g.borrow_mut();
        let inst = g.get_or_insert_with(|| Instance::new(Rc::new(define), Box::new(WasmHost)).with_minor(minor));
        f(inst)
    })
}

/// squall_inbox, for a module whose marker is ABI 1.`minor`.
pub fn inbox(min_cap: i32, define: fn(&mut Module), minor: u16) -> i32 {
    with_guest(define, minor, |inst| match inst.inbox(min_cap as i64) {
        Some(b) => b.as_mut_ptr() as usize as i32,
        None => 0,
    })
}

/// squall_init.
pub fn init(len: i32, define: fn(&mut Module), minor: u16) -> i32 {
    if len < 0 {
        return STATUS_FAILED;
    }
    with_guest(define, minor, |inst| inst.init(len as usize))
}

/// squall_process.
pub fn process(len: i32, define: fn(&mut Module), minor: u16) -> i32 {
    if len < 0 || len as usize > MAX_BATCH_FRAME {
        return STATUS_FAILED;
    }
    with_guest(define, minor, |inst| inst.process(len as usize))
}

/// Reports a panic that is about to trap the instance: one frame with an
/// ERROR naming the item, flushed directly (the instance's own buffers may
/// be in use by the code that panicked).
#[allow(dead_code)]
pub(crate) fn report_panic(item: u32, d: &ErrorDetail) {
    let mut b = Vec::with_capacity(256);
    append_header(&mut b, KIND_EFFECTS, 1);
    append_effect_header(&mut b, OP_ERROR, 0, 0, item);
    if crate::msgpack::encode_into(&mut b, &d.value()).is_err() {
        return;
    }
    let size = (b.len() - EFFECTS_HEADER_SIZE - EFFECT_HEADER_SIZE) as u32;
    put_u32(&mut b[EFFECTS_HEADER_SIZE..], size);
    WasmHost.flush(&b);
}
