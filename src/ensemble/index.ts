/** zmpi ensemble: states × walkers over state groups of ranks and their pools. */
export { Ensemble, StateContext, defaultGroups, type EnsembleOptions, type EnsembleHooks } from "./ensemble.js";
