import { InvalidArgumentError } from 'commander';

// Parsers of option values: a bad value is commander's usage error (exit 2), naming what is expected.

/** A whole number of at least `min`. */
export const integer = (_name: string, min: number) => (value: string) => {
  const number = Number(value);
  if (!/^\d+$/.test(value) || number < min)
    throw new InvalidArgumentError(`expected a whole number of at least ${min}`);
  return number;
};

/** A number from 0 to 1. */
export const fraction = (_name: string) => (value: string) => {
  const number = Number(value);
  if (value.trim() === '' || !Number.isFinite(number) || number < 0 || number > 1)
    throw new InvalidArgumentError('expected a number from 0 to 1');
  return number;
};

/** Province codes separated by commas. */
export const provinceList = (value: string) =>
  value
    .split(',')
    .map((code) => code.trim())
    .filter(Boolean);
