export { type CatalogEntry, createCatalog, type ViewPipeline } from "./catalog.js";
export { isLoopback, startViewServer, type ViewServer, type ViewServerOptions } from "./server.js";
