/**
 * Message instrumentation (issue 10): the tracked links and the open pixel of an email's HTML and text parts.
 * Pure functions: no database, no tokens; the caller says what each link's tracked URL is.
 */
export { applyEdits, revertEdits, type Edit } from './edits.js';
export {
  instrumentHtml,
  type InstrumentHtmlOptions,
  type InstrumentHtmlResult,
  type InstrumentLinkOptions,
  type TrackedLink,
} from './html-instrument.js';
export { instrumentText, type InstrumentTextResult } from './text-instrument.js';
export { hasTemplatePlaceholder } from './placeholders.js';
export { openPixel } from './pixel.js';
