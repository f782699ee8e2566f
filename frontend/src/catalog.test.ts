import { describe, expect, it } from 'vitest'
import { classify, worstStatus } from './catalog'
import { catalog } from './test/fixtures'

describe('classify', () => {
  const temperature = catalog.parameter('Drilling', 'Temperature')!
  const oil = catalog.parameter('Lathe', 'OilPressure')!

  it('is CRITICAL strictly above critical_high, like the API', () => {
    expect(classify(temperature, 1000)).toBe('WARNING')
    expect(classify(temperature, 1000.01)).toBe('CRITICAL')
    expect(classify(temperature, 1234.5)).toBe('CRITICAL')
  })

  it('is WARNING strictly beyond a warning threshold, NORMAL at it', () => {
    expect(classify(temperature, 900)).toBe('NORMAL')
    expect(classify(temperature, 900.1)).toBe('WARNING')
  })

  it('classifies low thresholds too', () => {
    expect(classify(oil, 25)).toBe('NORMAL')
    expect(classify(oil, 24.9)).toBe('WARNING')
    expect(classify(oil, 19.9)).toBe('CRITICAL')
    expect(classify(oil, 60.1)).toBe('CRITICAL')
  })

  it('returns null for a parameter the catalog does not know', () => {
    expect(catalog.classify('Drilling', 'VibrationLevel', 500)).toBeNull()
    expect(catalog.classify('Boring', 'Temperature', 500)).toBeNull()
  })
})

describe('worstStatus', () => {
  it('ranks CRITICAL over WARNING over UNKNOWN over NORMAL', () => {
    expect(worstStatus(['NORMAL', 'WARNING', 'NORMAL'])).toBe('WARNING')
    expect(worstStatus(['WARNING', 'CRITICAL'])).toBe('CRITICAL')
    expect(worstStatus(['NORMAL', 'UNKNOWN'])).toBe('UNKNOWN')
    expect(worstStatus([])).toBe('UNKNOWN')
  })
})
