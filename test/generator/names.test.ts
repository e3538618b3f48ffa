/** names.ts: the only way contract text becomes source text. */
import { describe, expect, it } from 'vitest';
import { camelCase, fileSlug, jsDoc, literal, pascalCase, propertyKey, uniqueIdentifier, valueLiteral } from '../../generator/names.ts';

describe('identifiers', () => {
  it.each([
    ['order status-changed', 'OrderStatusChanged', 'orderStatusChanged'],
    ['publishOrderStatus', 'PublishOrderStatus', 'publishOrderStatus'],
    ['user_created', 'UserCreated', 'userCreated'],
    ['HTTPServer', 'HttpServer', 'httpServer'],
    ['orders.{orderId}.status', 'OrdersOrderIdStatus', 'ordersOrderIdStatus'],
    ['Grüße */ `x`', 'GrüßeX', 'grüßeX'],
    ['123start', '_123start', '_123start'],
    ['__proto__', 'Proto', 'proto'],
    ['../../etc/passwd', 'EtcPasswd', 'etcPasswd'],
    ['', 'Unnamed', 'unnamed'],
  ])('%j → %s / %s', (text, pascal, camel) => {
    expect(pascalCase(text)).toBe(pascal);
    expect(camelCase(text)).toBe(camel);
  });

  it('suffixes keywords, globals the generated code uses, and Object.prototype members; numbers collisions', () => {
    const taken = new Set<string>();
    expect(['delete', 'class', 'constructor', 'toString', 'then', 'z', 'Object', 'RegExp', 'order', 'order'].map((n) => uniqueIdentifier(n, taken))).toEqual([
      'delete_', 'class_', 'constructor_', 'toString_', 'then_', 'z_', 'Object_', 'RegExp_', 'order', 'order2',
    ]);
  });
});

describe('literals and keys', () => {
  it('string literals escape quotes, backslashes, line breaks', () => {
    const text = 'a"b\\c\nd`e${f}\u2028';
    expect(literal(text)).toBe(JSON.stringify(text));
    expect(new Function(`return ${literal(text)}`)()).toBe(text);
  });

  it('property keys: bare when safe, quoted otherwise, __proto__ stays an own property', () => {
    expect(propertyKey('orderId')).toBe('orderId');
    expect(propertyKey('with space')).toBe('"with space"');
    expect(propertyKey('a"b')).toBe('"a\\"b"');
    expect(propertyKey('__proto__')).toBe('["__proto__"]');
    const value = new Function(`return { ${propertyKey('__proto__')}: 1 }`)() as object;
    expect(Object.hasOwn(value, '__proto__')).toBe(true);
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
  });

  it('value literals keep __proto__ as data', () => {
    const value = JSON.parse('{"__proto__": {"polluted": true}, "a": [1, "x", null]}') as unknown;
    const copy = new Function(`return ${valueLiteral(value)}`)() as Record<string, unknown>;
    expect(Object.hasOwn(copy, '__proto__')).toBe(true);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(copy['a']).toEqual([1, 'x', null]);
  });
});

describe('comments and file names', () => {
  it('JSDoc cannot be closed early and keeps line breaks inside', () => {
    const doc = jsDoc('ends */ here\r\nnext\u2028line');
    expect(doc).toBe('/**\n * ends *\\/ here\n * next\n * line\n */\n');
    expect(jsDoc(undefined)).toBe('');
  });

  it('file slugs are lowercase ASCII words, never empty, never a path', () => {
    expect(fileSlug('../../escape */ `tick` "quote" \n new line')).toBe('escape-tick-quote-new-line');
    expect(fileSlug('Crème Brûlée Events')).toBe('creme-brulee-events');
    expect(fileSlug('/etc/passwd')).toBe('etc-passwd');
    expect(fileSlug('..')).toBe('contract');
    expect(fileSlug('日本語')).toBe('contract');
  });
});
