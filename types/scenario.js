// `canihaz/scenario` holds declarations only (scenario.d.ts): what a scenario module's `ctx` is.
// This empty module lets a runtime import of it resolve.
export {};
