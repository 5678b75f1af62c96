/** zmpi particles: sharded particle sets and SVGD on them. */
export { ParticleSet, type ParticleSetOptions } from "./particle-set.js";
export { Svgd, type SvgdOptions, type SvgdStepInfo, type GradTask } from "./svgd.js";
export { selectKth } from "./select.js";
export { shardCounts, shardOffsets, shardOf } from "./shards.js";
