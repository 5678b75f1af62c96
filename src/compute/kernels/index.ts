// Entry point of the WASM SIMD core (AssemblyScript). Built by `npm run build:wasm` into
// src/compute/kernels.wasm with --runtime stub, no data segments and no start function, and an
// imported *shared* memory, so one compiled module can be instantiated on the same memory by
// every worker thread. All kernels take byte-offset pointers into that memory.
export * from "./reduce";
export * from "./fold";
export * from "./blas1";
export * from "./gemm";
export * from "./transpose";
export * from "./philox";
export * from "./svgd";
