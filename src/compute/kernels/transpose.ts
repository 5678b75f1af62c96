// Out-of-place transpose of a rows×cols row-major matrix: dst (cols×rows) [j][i] = src[i][j].
// Works on bit patterns, so the 32-bit kernel serves f32 and i32 and the 64-bit one f64.
// 32×32 cache tiles; inside a tile 4×4 (32-bit) or 2×2 (64-bit) blocks are transposed in
// registers with shuffles; ragged edges are copied element by element.

const TB: i32 = 32;

export function transpose_32(src: usize, dst: usize, rows: i32, cols: i32): void {
  const srs = <usize>cols << 2, drs = <usize>rows << 2;
  for (let ib = 0; ib < rows; ib += TB) {
    const ie = min(ib + TB, rows);
    for (let jb = 0; jb < cols; jb += TB) {
      const je = min(jb + TB, cols);
      let i = ib;
      for (; i + 4 <= ie; i += 4) {
        const s0 = src + <usize>i * srs, s1 = s0 + srs, s2 = s1 + srs, s3 = s2 + srs;
        let j = jb;
        for (; j + 4 <= je; j += 4) {
          const o = <usize>j << 2;
          const x0 = v128.load(s0 + o), x1 = v128.load(s1 + o), x2 = v128.load(s2 + o), x3 = v128.load(s3 + o);
          const t0 = v128.shuffle<i32>(x0, x1, 0, 4, 1, 5), t1 = v128.shuffle<i32>(x0, x1, 2, 6, 3, 7);
          const t2 = v128.shuffle<i32>(x2, x3, 0, 4, 1, 5), t3 = v128.shuffle<i32>(x2, x3, 2, 6, 3, 7);
          const d0 = dst + <usize>j * drs + (<usize>i << 2);
          v128.store(d0, v128.shuffle<i64>(t0, t2, 0, 2));
          v128.store(d0 + drs, v128.shuffle<i64>(t0, t2, 1, 3));
          v128.store(d0 + 2 * drs, v128.shuffle<i64>(t1, t3, 0, 2));
          v128.store(d0 + 3 * drs, v128.shuffle<i64>(t1, t3, 1, 3));
        }
        for (; j < je; j++) {
          const o = <usize>j << 2;
          const d0 = dst + <usize>j * drs + (<usize>i << 2);
          store<i32>(d0, load<i32>(s0 + o));
          store<i32>(d0, load<i32>(s1 + o), 4);
          store<i32>(d0, load<i32>(s2 + o), 8);
          store<i32>(d0, load<i32>(s3 + o), 12);
        }
      }
      for (; i < ie; i++) {
        for (let j = jb; j < je; j++) {
          store<i32>(dst + <usize>j * drs + (<usize>i << 2), load<i32>(src + <usize>i * srs + (<usize>j << 2)));
        }
      }
    }
  }
}

export function transpose_64(src: usize, dst: usize, rows: i32, cols: i32): void {
  const srs = <usize>cols << 3, drs = <usize>rows << 3;
  for (let ib = 0; ib < rows; ib += TB) {
    const ie = min(ib + TB, rows);
    for (let jb = 0; jb < cols; jb += TB) {
      const je = min(jb + TB, cols);
      let i = ib;
      for (; i + 2 <= ie; i += 2) {
        const s0 = src + <usize>i * srs, s1 = s0 + srs;
        let j = jb;
        for (; j + 2 <= je; j += 2) {
          const o = <usize>j << 3;
          const x0 = v128.load(s0 + o), x1 = v128.load(s1 + o);
          const d0 = dst + <usize>j * drs + (<usize>i << 3);
          v128.store(d0, v128.shuffle<i64>(x0, x1, 0, 2));
          v128.store(d0 + drs, v128.shuffle<i64>(x0, x1, 1, 3));
        }
        for (; j < je; j++) {
          const o = <usize>j << 3;
          const d0 = dst + <usize>j * drs + (<usize>i << 3);
          store<i64>(d0, load<i64>(s0 + o));
          store<i64>(d0, load<i64>(s1 + o), 8);
        }
      }
      for (; i < ie; i++) {
        for (let j = jb; j < je; j++) {
          store<i64>(dst + <usize>j * drs + (<usize>i << 3), load<i64>(src + <usize>i * srs + (<usize>j << 3)));
        }
      }
    }
  }
}
