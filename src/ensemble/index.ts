/** zmpi ensemble: states × walkers over state groups of ranks and their pools. */
export { Ensemble, StateContext, defaultGroups, type EnsembleOptions, type EnsembleHooks } from "./ensemble.js";
export { advise, divisibility, evenAlternatives, MEMORY_LIMIT, type Advice, type Check, type Layout, type Problem, type Resources } from "./advise.js";
export { detectResources, hostFacts, type HostFacts } from "./resources.js";
