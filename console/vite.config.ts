import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig, type Plugin } from 'vite';

/**
 * GraphiQL's stylesheet embeds its fonts as base64 (about 270 kB gzipped, more than the rest of
 * the console): drop them; the editor falls back to the system's monospace font.
 */
function graphiqlWithoutEmbeddedFonts(): Plugin {
  return {
    name: 'keyholder:graphiql-without-embedded-fonts',
    enforce: 'pre',
    transform(code, id) {
      if (!/[\\/]graphiql[\\/]dist[\\/]style\.css/.test(id)) return null;
      return { code: code.replace(/@font-face\s*\{[^}]*\}/g, ''), map: null };
    },
  };
}

/**
 * The console: built into dist/console (served by Keyholder at /console), every asset local and
 * hashed. GraphiQL is its own chunk, loaded only on its page.
 */
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/console/',
  plugins: [react(), graphiqlWithoutEmbeddedFonts()],
  logLevel: 'warn',
  build: {
    outDir: fileURLToPath(new URL('../dist/console', import.meta.url)),
    emptyOutDir: true,
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 2000,
    sourcemap: false,
    rollupOptions: {
      onwarn(warning, warn) {
        // react-compiler-runtime's "use no memo" directive: meaningless in a bundle.
        if (warning.code === 'MODULE_LEVEL_DIRECTIVE') return;
        warn(warning);
      },
    },
  },
});
