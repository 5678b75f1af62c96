// Imported by a pool worker before its first TypeScript task module: it loads only when a
// TypeScript loader is active in that thread (the annotation is not JavaScript). See ts-loader.ts.
export const typescript: boolean = true;
