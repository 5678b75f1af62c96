// Types of ensemble-model.mjs (plain JS so that pool workers load it without a TypeScript loader).
export declare const N_DATA: number;
export declare const SIGMA: number;
export declare const PRIOR_SD: number;
export declare const data: { x: Float64Array; y: Float64Array };
export declare function logLike(theta: readonly number[]): number;
export declare function logPrior(theta: readonly number[]): number;
export declare function logProb(walker: { theta: readonly number[] }): number;
