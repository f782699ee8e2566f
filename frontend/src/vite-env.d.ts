/// <reference types="vite/client" />

/** Where the build put Swagger UI's files (see vite.config.ts). */
declare const __SWAGGER_UI_PATH__: string
