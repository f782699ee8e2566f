import { StrictMode } from 'react'
import { createRoot } from 'react-dom/client'
import { ApiClient } from './api/client'
import { App } from './App'
import { loadConfig } from './config'
import { DashboardProvider } from './state/DashboardProvider'
import './styles.css'

const root = createRoot(document.getElementById('root')!)

loadConfig()
  .then((config) => {
    root.render(
      <StrictMode>
        <DashboardProvider config={config} api={new ApiClient(config.apiUrl)}>
          <App />
        </DashboardProvider>
      </StrictMode>,
    )
  })
  .catch((error: unknown) => {
    root.render(
      <main className="fatal" role="alert">
        <h1>OrchestraLink cannot start</h1>
        <p>{error instanceof Error ? error.message : String(error)}</p>
        <p>
          <button type="button" onClick={() => window.location.reload()}>
            Reload
          </button>
        </p>
      </main>,
    )
  })
