// Level-1 updates: axpy (y = y + alpha*x) and scale (x = alpha*x). Each element is rounded
// exactly as the JS fallback rounds it: alpha*x to the element type, then the add.

export function axpy_f64(alpha: f64, x: usize, y: usize, n: i32): void {
  const bytes = <usize>n << 3;
  const vend = bytes & ~(<usize>63);
  const va = f64x2.splat(alpha);
  let o: usize = 0;
  for (; o < vend; o += 64) {
    v128.store(y + o, f64x2.add(v128.load(y + o), f64x2.mul(va, v128.load(x + o))));
    v128.store(y + o, f64x2.add(v128.load(y + o, 16), f64x2.mul(va, v128.load(x + o, 16))), 16);
    v128.store(y + o, f64x2.add(v128.load(y + o, 32), f64x2.mul(va, v128.load(x + o, 32))), 32);
    v128.store(y + o, f64x2.add(v128.load(y + o, 48), f64x2.mul(va, v128.load(x + o, 48))), 48);
  }
  for (; o < bytes; o += 8) store<f64>(y + o, load<f64>(y + o) + alpha * load<f64>(x + o));
}
export function axpy_f32(alpha: f32, x: usize, y: usize, n: i32): void {
  const bytes = <usize>n << 2;
  const vend = bytes & ~(<usize>63);
  const va = f32x4.splat(alpha);
  let o: usize = 0;
  for (; o < vend; o += 64) {
    v128.store(y + o, f32x4.add(v128.load(y + o), f32x4.mul(va, v128.load(x + o))));
    v128.store(y + o, f32x4.add(v128.load(y + o, 16), f32x4.mul(va, v128.load(x + o, 16))), 16);
    v128.store(y + o, f32x4.add(v128.load(y + o, 32), f32x4.mul(va, v128.load(x + o, 32))), 32);
    v128.store(y + o, f32x4.add(v128.load(y + o, 48), f32x4.mul(va, v128.load(x + o, 48))), 48);
  }
  for (; o < bytes; o += 4) store<f32>(y + o, load<f32>(y + o) + alpha * load<f32>(x + o));
}
export function scale_f64(alpha: f64, x: usize, n: i32): void {
  const bytes = <usize>n << 3;
  const vend = bytes & ~(<usize>63);
  const va = f64x2.splat(alpha);
  let o: usize = 0;
  for (; o < vend; o += 64) {
    v128.store(x + o, f64x2.mul(va, v128.load(x + o)));
    v128.store(x + o, f64x2.mul(va, v128.load(x + o, 16)), 16);
    v128.store(x + o, f64x2.mul(va, v128.load(x + o, 32)), 32);
    v128.store(x + o, f64x2.mul(va, v128.load(x + o, 48)), 48);
  }
  for (; o < bytes; o += 8) store<f64>(x + o, alpha * load<f64>(x + o));
}
export function scale_f32(alpha: f32, x: usize, n: i32): void {
  const bytes = <usize>n << 2;
  const vend = bytes & ~(<usize>63);
  const va = f32x4.splat(alpha);
  let o: usize = 0;
  for (; o < vend; o += 64) {
    v128.store(x + o, f32x4.mul(va, v128.load(x + o)));
    v128.store(x + o, f32x4.mul(va, v128.load(x + o, 16)), 16);
    v128.store(x + o, f32x4.mul(va, v128.load(x + o, 32)), 32);
    v128.store(x + o, f32x4.mul(va, v128.load(x + o, 48)), 48);
  }
  for (; o < bytes; o += 4) store<f32>(x + o, alpha * load<f32>(x + o));
}
