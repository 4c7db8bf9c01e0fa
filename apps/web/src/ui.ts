import { TRPCClientError } from '@trpc/client';

// The app's building blocks: elements made from text only (nothing a user typed becomes markup),
// and forms whose errors appear next to the field that caused them.

/** Creates an element; text only (never HTML), so nothing a user typed can run as markup. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Partial<Record<string, string | boolean>> = {},
  ...children: Array<Node | string | null | undefined | false>
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === false || value === undefined) continue;
    if (key === 'class') el.className = String(value);
    else el.setAttribute(key, value === true ? '' : value);
  }
  for (const child of children) if (child) el.append(child);
  return el;
}

interface ErrorData {
  appCode?: string;
  /** `path` is the field's dotted path, e.g. `title` or `items.0.name`. */
  issues?: Array<{ path: string; message: string }>;
}

/** The message per field (the first issue of each), or one message when no field is named. */
export function describeError(error: unknown): { fields: Record<string, string>; message: string | undefined } {
  const data = (error instanceof TRPCClientError ? error.data : undefined) as ErrorData | undefined;
  const fields: Record<string, string> = {};
  for (const issue of data?.issues ?? []) {
    const field = issue.path.split('.')[0] ?? '';
    if (field && !fields[field]) fields[field] = issue.message;
  }
  const message =
    Object.keys(fields).length > 0
      ? undefined
      : data?.appCode === 'OUTCOME_UNKNOWN'
        ? 'The connection failed: the change may or may not have been saved. Refresh to check.'
        : error instanceof Error
          ? error.message
          : 'Something went wrong';
  return { fields, message };
}

export interface FieldSpec {
  name: string;
  label: string;
  type?: 'text' | 'email' | 'password' | 'textarea';
  value?: string;
  autocomplete?: string;
}

/** A form whose fields have labels, and whose errors appear under the field (announced to screen readers). */
export function form(
  id: string,
  legend: string,
  fields: FieldSpec[],
  submit: string,
  onSubmit: (values: Record<string, string>) => Promise<void>,
) {
  const general = h('p', { id: `${id}-error`, class: 'error', role: 'alert' });
  const inputs = fields.map((field) => {
    const inputId = `${id}-${field.name}`;
    const error = h('p', { id: `${inputId}-error`, class: 'error field-error', role: 'alert' });
    const attrs = {
      id: inputId,
      name: field.name,
      'aria-describedby': `${inputId}-error`,
      autocomplete: field.autocomplete ?? 'off',
    };
    const input =
      field.type === 'textarea' ? h('textarea', { ...attrs, rows: '3' }) : h('input', { ...attrs, type: field.type ?? 'text' });
    input.value = field.value ?? '';
    return { field, input, error, row: h('div', { class: 'field' }, h('label', { for: inputId }, field.label), input, error) };
  });
  const button = h('button', { type: 'submit' }, submit);
  const el = h('form', { id, novalidate: true, 'aria-label': legend }, ...inputs.map((i) => i.row), button, general);
  el.addEventListener('submit', (event) => {
    event.preventDefault();
    for (const { input, error } of inputs) {
      error.textContent = '';
      input.removeAttribute('aria-invalid');
    }
    general.textContent = '';
    button.disabled = true;
    const values = Object.fromEntries(inputs.map(({ field, input }) => [field.name, input.value]));
    onSubmit(values)
      .catch((err: unknown) => {
        const { fields: byField, message } = describeError(err);
        let first: HTMLElement | undefined;
        for (const { field, input, error } of inputs) {
          const text = byField[field.name];
          if (!text) continue;
          error.textContent = text;
          input.setAttribute('aria-invalid', 'true');
          first ??= input;
        }
        general.textContent = message ?? (first ? '' : 'Please check the form');
        first?.focus();
      })
      .finally(() => {
        button.disabled = false;
      });
  });
  return el;
}
