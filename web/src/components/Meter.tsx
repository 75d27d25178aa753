import { percent } from '../format'

/** Props of {@link Meter}. */
export interface MeterProps {
  /** Utilisation, 0..1. */
  readonly value: number
  /** What is measured, for the accessible name. */
  readonly label: string
}

/** A utilisation bar with its percentage; amber above 80 %, red above 95 %. */
export function Meter({ value, label }: MeterProps) {
  const level = value >= 0.95 ? 'meter-high' : value >= 0.8 ? 'meter-warn' : 'meter-ok'
  return (
    <span className="meter-wrap">
      <meter
        className={level}
        min={0}
        max={1}
        low={0.8}
        high={0.95}
        optimum={0}
        value={value}
        aria-label={label}
      />
      <span className="meter-text">{percent(value)}</span>
    </span>
  )
}
