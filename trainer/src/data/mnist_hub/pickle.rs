//! A strict reader for exactly one pickle: `mnist.pkl.gz`'s three `(images, labels)` pairs of
//! NumPy arrays (protocol 2). It knows the sixteen opcodes that file uses and three globals
//! (`numpy.core.multiarray._reconstruct`, `numpy.ndarray`, `numpy.dtype`), builds nothing
//! but arrays of little-endian `f4` or `i8`, and refuses everything else; nothing is
//! executed. Every length is bounded before anything is allocated.

use super::MnistHubError;
use std::cell::RefCell;
use std::io::Read;
use std::rc::Rc;

/// Longest string the reader accepts (the largest array, 50,000 × 784 `f4`, is 156.8 MB).
pub const MAX_STRING: usize = 200 << 20;

/// Most memo entries, and most values on the stack (the file uses 15 and 14).
const MAX_ENTRIES: usize = 1024;

/// The element types the file's arrays have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dtype {
    /// Little-endian `float32` (`<f4`).
    F4,
    /// Little-endian `int64` (`<i8`).
    I8,
}

impl Dtype {
    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            Dtype::F4 => 4,
            Dtype::I8 => 8,
        }
    }
}

/// A NumPy array as the pickle stores it: C order, raw little-endian data.
#[derive(Clone, Debug, PartialEq)]
pub struct Array {
    /// Its shape.
    pub shape: Vec<usize>,
    /// Its element type.
    pub dtype: Dtype,
    /// `shape.iter().product() * dtype.size()` bytes.
    pub data: Vec<u8>,
}

/// The three globals the file refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Global {
    Reconstruct,
    NdArray,
    DtypeClass,
}

/// Objects that `BUILD` completes in place (the memo shares them, as Python's does).
#[derive(Debug)]
enum Object {
    /// A dtype before its state: the descriptor; after: also little-endian.
    Dtype { dtype: Dtype, built: bool },
    /// An empty array from `_reconstruct`, then the built one.
    Array(Option<Array>),
}

#[derive(Clone, Debug)]
enum Value {
    None,
    Bool(bool),
    Int(i64),
    Bytes(Rc<Vec<u8>>),
    Tuple(Rc<Vec<Value>>),
    Mark,
    Global(Global),
    Object(Rc<RefCell<Object>>),
}

/// Reads the pickle from `input` (already inflated) and returns its three pairs.
pub fn read_pairs(input: impl Read, name: &str) -> Result<Vec<(Array, Array)>, MnistHubError> {
    let mut r = Reader {
        input,
        offset: 0,
        name,
    };
    let mut stack: Vec<Value> = Vec::new();
    let mut memo: Vec<Option<Value>> = Vec::new();
    loop {
        let at = r.offset;
        let op = r.byte()?;
        let bad = |what: String| MnistHubError::Pickle {
            name: name.to_owned(),
            offset: at,
            what,
        };
        match op {
            // PROTO
            0x80 => {
                let version = r.byte()?;
                if version != 2 {
                    return Err(bad(format!("protocol {version}, expected 2")));
                }
            }
            // GLOBAL "module\nname\n"
            b'c' => {
                let module = r.line()?;
                let attr = r.line()?;
                let global = match (module.as_str(), attr.as_str()) {
                    ("numpy.core.multiarray", "_reconstruct") => Global::Reconstruct,
                    ("numpy", "ndarray") => Global::NdArray,
                    ("numpy", "dtype") => Global::DtypeClass,
                    _ => {
                        return Err(bad(format!(
                            "global {module}.{attr} is not one of NumPy's array constructors"
                        )))
                    }
                };
                stack.push(Value::Global(global));
            }
            // BINPUT
            b'q' => {
                let key = usize::from(r.byte()?);
                let top = stack
                    .last()
                    .cloned()
                    .ok_or_else(|| bad("BINPUT on an empty stack".into()))?;
                if key >= MAX_ENTRIES {
                    return Err(bad(format!("memo key {key}")));
                }
                if memo.len() <= key {
                    memo.resize(key + 1, None);
                }
                memo[key] = Some(top);
            }
            // BINGET
            b'h' => {
                let key = usize::from(r.byte()?);
                let value = memo
                    .get(key)
                    .cloned()
                    .flatten()
                    .ok_or_else(|| bad(format!("memo key {key} was never stored")))?;
                stack.push(value);
            }
            // BININT1, BININT2, BININT
            b'K' => stack.push(Value::Int(i64::from(r.byte()?))),
            b'M' => {
                let b = r.bytes::<2>()?;
                stack.push(Value::Int(i64::from(u16::from_le_bytes(b))));
            }
            b'J' => {
                let b = r.bytes::<4>()?;
                stack.push(Value::Int(i64::from(i32::from_le_bytes(b))));
            }
            // NONE, NEWFALSE, MARK
            b'N' => stack.push(Value::None),
            0x89 => stack.push(Value::Bool(false)),
            b'(' => stack.push(Value::Mark),
            // SHORT_BINSTRING, BINSTRING
            b'U' => {
                let len = usize::from(r.byte()?);
                stack.push(Value::Bytes(Rc::new(r.string(len)?)));
            }
            b'T' => {
                let len = u32::from_le_bytes(r.bytes::<4>()?) as usize;
                if len > MAX_STRING {
                    return Err(bad(format!(
                        "a string of {len} bytes (at most {MAX_STRING})"
                    )));
                }
                stack.push(Value::Bytes(Rc::new(r.string(len)?)));
            }
            // TUPLE1, TUPLE2, TUPLE3
            0x85..=0x87 => {
                let n = usize::from(op - 0x84);
                if stack.len() < n
                    || stack[stack.len() - n..]
                        .iter()
                        .any(|v| matches!(v, Value::Mark))
                {
                    return Err(bad(format!("a {n}-tuple of too few values")));
                }
                let items = stack.split_off(stack.len() - n);
                stack.push(Value::Tuple(Rc::new(items)));
            }
            // TUPLE (back to the mark)
            b't' => {
                let mark = stack
                    .iter()
                    .rposition(|v| matches!(v, Value::Mark))
                    .ok_or_else(|| bad("TUPLE without a MARK".into()))?;
                let items = stack.split_off(mark + 1);
                stack.pop();
                stack.push(Value::Tuple(Rc::new(items)));
            }
            // REDUCE
            b'R' => {
                let (args, callable) = match (stack.pop(), stack.pop()) {
                    (Some(Value::Tuple(args)), Some(Value::Global(g))) => (args, g),
                    _ => {
                        return Err(bad(
                            "REDUCE of something other than a known global and a tuple".into(),
                        ))
                    }
                };
                stack.push(reduce(callable, &args).map_err(bad)?);
            }
            // BUILD
            b'b' => {
                let state = stack.pop();
                let (Some(Value::Tuple(state)), Some(Value::Object(object))) =
                    (state, stack.last())
                else {
                    return Err(bad(
                        "BUILD of something other than a dtype or an array".into()
                    ));
                };
                build(&mut object.borrow_mut(), &state).map_err(bad)?;
            }
            // STOP
            b'.' => {
                let result = stack
                    .pop()
                    .ok_or_else(|| bad("STOP on an empty stack".into()))?;
                if !stack.is_empty() {
                    return Err(bad("values left on the stack at STOP".into()));
                }
                return pairs(&result).map_err(bad);
            }
            other => {
                return Err(bad(format!(
                    "opcode 0x{other:02x}, which this reader does not know"
                )))
            }
        }
        if stack.len() > MAX_ENTRIES {
            return Err(bad("the stack grows past what the file needs".into()));
        }
    }
}

/// `_reconstruct(ndarray, (0,), b'b')` or `dtype('f4' | 'i8', 0, 1)`.
fn reduce(callable: Global, args: &[Value]) -> Result<Value, String> {
    match (callable, args) {
        (
            Global::Reconstruct,
            [Value::Global(Global::NdArray), Value::Tuple(shape), Value::Bytes(code)],
        ) if matches!(shape.as_slice(), [Value::Int(0)]) && code.as_slice() == b"b" => {
            Ok(Value::Object(Rc::new(RefCell::new(Object::Array(None)))))
        }
        (Global::DtypeClass, [Value::Bytes(descr), Value::Int(0), Value::Int(1)]) => {
            let dtype = match descr.as_slice() {
                b"f4" => Dtype::F4,
                b"i8" => Dtype::I8,
                other => {
                    return Err(format!(
                        "dtype {:?}: only f4 and i8 are read",
                        String::from_utf8_lossy(other)
                    ))
                }
            };
            Ok(Value::Object(Rc::new(RefCell::new(Object::Dtype {
                dtype,
                built: false,
            }))))
        }
        _ => Err("a call other than NumPy's array or dtype reconstruction".into()),
    }
}

/// Applies a `BUILD` state: a dtype's `(3, '<', None, None, None, -1, -1, 0)` or an array's
/// `(1, shape, dtype, False, data)`.
fn build(object: &mut Object, state: &[Value]) -> Result<(), String> {
    match object {
        Object::Dtype { built, .. } => match state {
            [Value::Int(3), Value::Bytes(order), Value::None, Value::None, Value::None, Value::Int(-1), Value::Int(-1), Value::Int(0)] =>
            {
                if order.as_slice() != b"<" {
                    return Err(format!(
                        "byte order {:?}: only little-endian is read",
                        String::from_utf8_lossy(order)
                    ));
                }
                *built = true;
                Ok(())
            }
            _ => Err("a dtype state other than a plain little-endian number's".into()),
        },
        Object::Array(array) => {
            let [Value::Int(1), Value::Tuple(shape), Value::Object(dtype), Value::Bool(false), Value::Bytes(data)] =
                state
            else {
                return Err(
                    "an array state other than (1, shape, dtype, False, data) in C order".into(),
                );
            };
            let dtype = match &*dtype.borrow() {
                Object::Dtype { dtype, built: true } => *dtype,
                _ => return Err("an array whose dtype is not a built f4 or i8".into()),
            };
            let mut dims = Vec::new();
            for d in shape.iter() {
                match d {
                    Value::Int(n) if *n >= 0 => dims.push(*n as usize),
                    _ => return Err("a shape of something other than sizes".into()),
                }
            }
            let expected = dims
                .iter()
                .try_fold(dtype.size(), |acc, &d| acc.checked_mul(d))
                .ok_or("a shape too large to address")?;
            if data.len() != expected {
                return Err(format!(
                    "an array of shape {dims:?} with {} bytes of data, not {expected}",
                    data.len()
                ));
            }
            if array.is_some() {
                return Err("an array built twice".into());
            }
            *array = Some(Array {
                shape: dims,
                dtype,
                data: data.as_ref().clone(),
            });
            Ok(())
        }
    }
}

/// The result `((x, y), (x, y), (x, y))` of built arrays.
fn pairs(result: &Value) -> Result<Vec<(Array, Array)>, String> {
    let Value::Tuple(parts) = result else {
        return Err("the pickle's value is not a tuple".into());
    };
    if parts.len() != 3 {
        return Err(format!(
            "{} parts, expected 3 (train, validation, test)",
            parts.len()
        ));
    }
    let array = |v: &Value| -> Result<Array, String> {
        match v {
            Value::Object(o) => match &mut *o.borrow_mut() {
                Object::Array(a) => a
                    .take()
                    .ok_or_else(|| "a part holds an unbuilt (or the same) array".into()),
                Object::Dtype { .. } => Err("a part holds a dtype".into()),
            },
            _ => Err("a part holds something other than arrays".into()),
        }
    };
    parts
        .iter()
        .map(|part| match part {
            Value::Tuple(pair) if pair.len() == 2 => Ok((array(&pair[0])?, array(&pair[1])?)),
            _ => Err("a part is not an (images, labels) pair".into()),
        })
        .collect()
}

/// Bytes of the pickle, counted.
struct Reader<'a, R> {
    input: R,
    offset: usize,
    name: &'a str,
}

impl<R: Read> Reader<'_, R> {
    fn truncated(&self) -> MnistHubError {
        MnistHubError::Pickle {
            name: self.name.to_owned(),
            offset: self.offset,
            what: "the file ends before its STOP".into(),
        }
    }

    fn bytes<const N: usize>(&mut self) -> Result<[u8; N], MnistHubError> {
        let mut b = [0; N];
        self.input
            .read_exact(&mut b)
            .map_err(|_| self.truncated())?;
        self.offset += N;
        Ok(b)
    }

    fn byte(&mut self) -> Result<u8, MnistHubError> {
        Ok(self.bytes::<1>()?[0])
    }

    /// `len` bytes (bounded by the caller), read in chunks so that a lying length costs only
    /// what the file really holds.
    fn string(&mut self, len: usize) -> Result<Vec<u8>, MnistHubError> {
        let mut out = Vec::new();
        let got = (&mut self.input)
            .take(len as u64)
            .read_to_end(&mut out)
            .map_err(|_| self.truncated())?;
        if got != len {
            return Err(self.truncated());
        }
        self.offset += len;
        Ok(out)
    }

    /// A newline-terminated ASCII line of at most 64 bytes (a GLOBAL's module or name).
    fn line(&mut self) -> Result<String, MnistHubError> {
        let mut line = Vec::new();
        loop {
            match self.byte()? {
                b'\n' => break,
                b if b.is_ascii_graphic() && line.len() < 64 => line.push(b),
                _ => {
                    return Err(MnistHubError::Pickle {
                        name: self.name.to_owned(),
                        offset: self.offset,
                        what: "a GLOBAL name that is not a short ASCII identifier".into(),
                    })
                }
            }
        }
        Ok(String::from_utf8_lossy(&line).into_owned())
    }
}
