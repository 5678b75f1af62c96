// Types of svgd-target.mjs (plain JS so that pool workers load it without a TypeScript loader).
import type { GradTask } from "zmpi";
export declare const MODES: number[][];
export declare const WEIGHTS: number[];
export declare const SD: number;
export declare function logP(x0: number, x1: number): number;
export declare function gradLogP(task: GradTask): void;
