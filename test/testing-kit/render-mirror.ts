/**
 * Renders templates/mirror.ts.hbs the way generator/render.ts renders its own templates (same
 * Handlebars options, same helpers, same tidy step), until render.ts emits it.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import Handlebars from 'handlebars';
import type { ContractModel } from '../../generator/model.ts';
import { camelCase, jsDoc, literal, pascalCase, valueLiteral } from '../../generator/names.ts';
import { builtInTemplatesDir } from '../../generator/render.ts';

export function renderMirror(model: ContractModel): string {
  const hb = Handlebars.create();
  hb.registerHelper('literal', (value: unknown) => literal(String(value)));
  hb.registerHelper('json', (value: unknown) => valueLiteral(value));
  hb.registerHelper('pascal', (value: unknown) => pascalCase(String(value)));
  hb.registerHelper('camel', (value: unknown) => camelCase(String(value)));
  hb.registerHelper('jsdoc', (value: unknown) => jsDoc(value === undefined || value === null ? undefined : String(value)));
  const source = readFileSync(path.join(builtInTemplatesDir(), 'mirror.ts.hbs'), 'utf8');
  const text = hb.compile<ContractModel>(source, { noEscape: true, strict: true })(model);
  return `${text.replace(/[ \t]+$/gm, '').replace(/\n{3,}/g, '\n\n').trimEnd()}\n`;
}
