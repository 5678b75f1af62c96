// Op codes shared by the kernel families. Compile-time constants: the @inline bodies branch on
// them and binaryen removes the untaken branches.
export const OP_SUM: i32 = 0;
export const OP_PROD: i32 = 1;
export const OP_MIN: i32 = 2;
export const OP_MAX: i32 = 3;
export const OP_BAND: i32 = 4;
export const OP_BOR: i32 = 5;
export const OP_BXOR: i32 = 6;
export const OP_LAND: i32 = 7;
export const OP_LOR: i32 = 8;
