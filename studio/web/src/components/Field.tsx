/** Form fields, controlled: the value comes in, each change goes out as a plain value. */
import type {
  ComponentChildren,
  PartialInputHTMLAttributes,
  PartialSelectHTMLAttributes,
  TextareaHTMLAttributes,
} from 'preact';

// Without `role`: Preact's types allow only the roles that fit each input type.
type InputRest = Omit<
  PartialInputHTMLAttributes<HTMLInputElement>,
  'value' | 'onInput' | 'onChange' | 'type' | 'checked' | 'role'
>;

export interface TextFieldProps extends InputRest {
  value: string;
  onValue: (value: string) => void;
  type?: 'text' | 'password' | 'search';
  /** A visible label before the input. */
  label?: ComponentChildren;
}

export function TextField({ value, onValue, type = 'text', label, ...rest }: TextFieldProps) {
  const onInput = (e: { currentTarget: HTMLInputElement }) => onValue(e.currentTarget.value);
  // One literal `type` per element: Preact's input types are a union told apart by it.
  const input =
    type === 'password' ? (
      <input {...rest} type="password" value={value} onInput={onInput} />
    ) : type === 'search' ? (
      <input {...rest} type="search" value={value} onInput={onInput} />
    ) : (
      <input {...rest} type="text" value={value} onInput={onInput} />
    );
  return label === undefined ? (
    input
  ) : (
    <label class="field">
      <span>{label}</span>
      {input}
    </label>
  );
}

export interface CheckboxProps extends InputRest {
  checked: boolean;
  onChecked: (checked: boolean) => void;
  label: ComponentChildren;
}

export function Checkbox({ checked, onChecked, label, ...rest }: CheckboxProps) {
  return (
    <label class="check">
      <input {...rest} type="checkbox" checked={checked} onChange={(e) => onChecked(e.currentTarget.checked)} /> {label}
    </label>
  );
}

export interface Option {
  value: string;
  label: string;
}

export interface SelectProps extends Omit<
  PartialSelectHTMLAttributes<HTMLSelectElement>,
  'value' | 'onChange' | 'onInput' | 'role'
> {
  value: string;
  options: readonly (Option | string)[];
  onValue: (value: string) => void;
}

export function Select({ value, options, onValue, ...rest }: SelectProps) {
  return (
    <select {...rest} value={value} onChange={(e) => onValue(e.currentTarget.value)}>
      {options.map((o) => {
        const { value: v, label } = typeof o === 'string' ? { value: o, label: o } : o;
        return (
          <option key={v} value={v}>
            {label}
          </option>
        );
      })}
    </select>
  );
}

export interface TextAreaProps extends Omit<TextareaHTMLAttributes<HTMLTextAreaElement>, 'value' | 'onInput'> {
  value: string;
  onValue: (value: string) => void;
}

export function TextArea({ value, onValue, ...rest }: TextAreaProps) {
  return <textarea {...rest} value={value} onInput={(e) => onValue(e.currentTarget.value)} />;
}

/** A row of fields and buttons, wrapping. */
export function Toolbar({ children }: { children: ComponentChildren }) {
  return <div class="row">{children}</div>;
}
