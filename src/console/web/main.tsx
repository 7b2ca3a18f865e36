/** Entry point of the web console (built by scripts/build-console.js into dist/console). */
import { render } from 'preact';
import { App } from './app.js';
import './styles.css';

render(<App />, document.getElementById('app') as HTMLElement);
